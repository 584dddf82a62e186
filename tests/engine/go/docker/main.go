// Command pulumi-resource-docker serves kreuzwerker's docker provider (an SDKv2 provider) to the
// Pulumi engine through pulumi-terraform-bridge, with the tokens and overrides of pulumi-docker's
// bridged resources. pulumi-docker's native docker:index/image:Image is not part of it. Unlike
// Pulumi's released binary it embeds no tfgen output: the package schema is generated in-process
// at start-up from the provider's own Terraform schema (descriptions only, no docs pages).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"unicode"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	bridgetokens "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// version is the pulumi-docker release whose Python SDK this binary serves, set at link time:
// -ldflags "-X main.version=5.2.0".
var version string

const pkg = "docker"

// token names a resource or function of the single module "index": docker:index/<name>:<Name>.
func token(name string) string {
	return fmt.Sprintf("%s:index/%c%s:%s", pkg, unicode.ToLower(rune(name[0])), name[1:], name)
}

func defaultHost() string {
	if runtime.GOOS == "windows" {
		return "npipe:////./pipe/docker_engine"
	}
	return "unix:///var/run/docker.sock"
}

func providerInfo() tfbridge.ProviderInfo {
	resource := func(name string) *tfbridge.ResourceInfo { return &tfbridge.ResourceInfo{Tok: tokenType(name)} }
	function := func(name string) *tfbridge.DataSourceInfo {
		return &tfbridge.DataSourceInfo{Tok: tokenMember(name)}
	}
	container := resource("Container")
	container.DeleteBeforeReplace = true
	container.Fields = map[string]*tfbridge.SchemaInfo{
		// one command (a list of words) and a list of networks: neither is pluralised
		"command":           {Name: "command"},
		"networks_advanced": {Name: "networksAdvanced"},
	}
	remoteImage := resource("RemoteImage")
	remoteImage.Fields = map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}}

	info := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(shim.NewProvider()),
		Name:         pkg,
		Version:      version,
		Description:  "A Pulumi package for interacting with Docker in Pulumi programs",
		License:      "Apache-2.0",
		GitHubOrg:    "kreuzwerker",
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{
				EnvVars: []string{"DOCKER_HOST"},
				ComputeDefault: func(context.Context, tfbridge.ComputeDefaultOptions) (any, error) {
					return defaultHost(), nil
				},
			}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config":         resource("ServiceConfig"),
			"docker_container":      container,
			"docker_image":          remoteImage,
			"docker_network":        resource("Network"),
			"docker_secret":         resource("Secret"),
			"docker_service":        resource("Service"),
			"docker_volume":         resource("Volume"),
			"docker_registry_image": resource("RegistryImage"),
			"docker_plugin":         resource("Plugin"),
			"docker_tag":            resource("Tag"),
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_network":        function("getNetwork"),
			"docker_registry_image": function("getRegistryImage"),
			"docker_plugin":         function("getPlugin"),
			"docker_image":          function("getRemoteImage"),
			"docker_logs":           function("getLogs"),
		},
		Python: &tfbridge.PythonInfo{RespectSchemaVersion: true},
	}
	// Whatever is not named above (docker_buildx_builder, ...) becomes docker:index/<name>:<Name>.
	info.MustComputeTokens(bridgetokens.SingleModule("docker_", "index", bridgetokens.MakeStandard(pkg)))
	info.MustApplyAutoAliases()
	info.SetAutonaming(255, "-")
	return info
}

func tokenType(name string) tokens.Type           { return tokens.Type(token(name)) }
func tokenMember(name string) tokens.ModuleMember { return tokens.ModuleMember(token(name)) }

func main() {
	if version == "" {
		fmt.Fprintln(os.Stderr, "pulumi-resource-docker: built without -ldflags \"-X main.version=...\"")
		os.Exit(1)
	}
	info := providerInfo()
	sink := diag.DefaultSink(os.Stderr, os.Stderr, diag.FormatOptions{Color: colors.Never})
	generated, err := tfgen.GenerateSchemaWithOptions(tfgen.GenerateSchemaOptions{
		ProviderInfo:    info,
		DiagnosticsSink: sink,
		XInMemoryDocs:   true,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-docker: generating the schema: %v\n", err)
		os.Exit(1)
	}
	schema, err := json.Marshal(generated.PackageSpec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-docker: encoding the schema: %v\n", err)
		os.Exit(1)
	}
	tfbridge.Main(pkg, version, info, schema)
}
