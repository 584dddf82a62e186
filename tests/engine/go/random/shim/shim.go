// Package shim exposes the upstream random provider (hashicorp/terraform-provider-random v3.9.0),
// whose constructor lives in an internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream plugin-framework provider.
func NewProvider() provider.Provider {
	return upstream.New()
}
