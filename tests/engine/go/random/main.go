// Command pulumi-resource-random serves hashicorp's random provider (a plugin-framework provider)
// to the Pulumi engine through pulumi-terraform-bridge. Unlike Pulumi's released binary it embeds
// no tfgen output: the package schema is generated in-process on the first GetSchema call, from
// the provider's own Terraform schema (descriptions only, no upstream docs pages).
package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	pfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"

	"github.com/terraform-providers/terraform-provider-random/shim"
)

// version is the pulumi-random release whose Python SDK this binary serves, set at link time:
// -ldflags "-X main.version=4.21.4".
var version string

const pkg = "random"

func providerInfo() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pfbridge.ShimProvider(shim.NewProvider()),
		Name:         pkg,
		Version:      version,
		Description:  "A Pulumi package to safely use randomness in Pulumi programs.",
		License:      "Apache-2.0",
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
		Resources: map[string]*tfbridge.ResourceInfo{
			// The ID of a RandomBytes is its base64 value (unwrapped from its secret).
			"random_bytes": {ComputeID: randomBytesID},
			// Old RandomString states may lack their schema version: take them as version 1.
			"random_string": {PreStateUpgradeHook: assumeVersionOne},
		},
		Python:                      &tfbridge.PythonInfo{RespectSchemaVersion: true},
		EnableAccurateBridgePreview: true,
		EnableRawStateDelta:         true,
	}
	// Every random_<name> becomes random:index/random<Name>:Random<Name>.
	standard := tokens.MakeStandard(pkg)
	info.MustComputeTokens(tokens.SingleModule("random_", "index", func(module, name string) (string, error) {
		return standard(module, "Random"+name)
	}))
	info.MustApplyAutoAliases()
	return info
}

func randomBytesID(_ context.Context, state resource.PropertyMap) (resource.ID, error) {
	value, ok := state["base64"]
	if !ok {
		return "", fmt.Errorf("random_bytes: no base64 property in the state")
	}
	if value.IsSecret() {
		value = value.SecretValue().Element
	}
	if !value.IsString() {
		return "", fmt.Errorf("random_bytes: base64 is not a string")
	}
	return resource.ID(value.StringValue()), nil
}

func assumeVersionOne(args tfbridge.PreStateUpgradeHookArgs) (int64, resource.PropertyMap, error) {
	if args.PriorStateSchemaVersion == 0 {
		return 1, args.PriorState, nil
	}
	return args.PriorStateSchemaVersion, args.PriorState, nil
}

func main() {
	if version == "" {
		fmt.Fprintln(os.Stderr, "pulumi-resource-random: built without -ldflags \"-X main.version=...\"")
		os.Exit(1)
	}
	info := providerInfo()
	schema := sync.OnceValues(func() ([]byte, error) {
		sink := diag.DefaultSink(os.Stderr, os.Stderr, diag.FormatOptions{Color: colors.Never})
		generated, err := pftfgen.GenerateSchema(context.Background(), pftfgen.GenerateSchemaOptions{
			ProviderInfo:    info,
			DiagnosticsSink: sink,
			XInMemoryDocs:   true,
		})
		if err != nil {
			return nil, err
		}
		return generated.ProviderMetadata.PackageSchema, nil
	})
	meta := pfbridge.ProviderMetadata{
		XGetSchema: func(context.Context, plugin.GetSchemaRequest) ([]byte, error) { return schema() },
	}
	pfbridge.Main(context.Background(), pkg, info, meta)
}
