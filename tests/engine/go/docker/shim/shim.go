// Package shim exposes the upstream docker provider (kreuzwerker/terraform-provider-docker),
// whose constructor lives in an internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	upstream "github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the upstream SDKv2 provider.
func NewProvider() *schema.Provider {
	return upstream.New("dev")()
}
