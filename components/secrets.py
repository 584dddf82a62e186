"""Generated credentials. Every password, key and token of the platform comes from here.

They are pulumi-random resources, so they are created once, kept in state and stay the same
across updates. Each value is wrapped as a secret here rather than trusting the provider's
schema, so it stays encrypted in state, masked in previews and secret in every file it is
rendered into.

Where the stack protects its data, the generated values are protected with it
(`keep_with_data`): a volume, database or bucket retained by `pulumi destroy --exclude-protected`
is unlocked by the passwords, keys and cluster ids made when it was created, and a new value on the
next `pulumi up` would lock the platform out of its own data.
"""

import pulumi
import pulumi_random as random

RANDOM_PACKAGE = "random:"


def keep_with_data(protect: bool) -> None:
    """Protect and retain every random resource of the program when the data is protected."""
    if not protect:
        return

    def protect_random(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith(RANDOM_PACKAGE):
            return None
        options = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True, retain_on_delete=True))
        return pulumi.ResourceTransformationResult(args.props, options)

    pulumi.runtime.register_stack_transformation(protect_random)


def password(name: str, *, parent: pulumi.Resource, length: int = 32) -> pulumi.Output[str]:
    """A password of letters and digits: safe unquoted in URLs, YAML, properties and shell."""
    generated = random.RandomPassword(
        name,
        length=length,
        special=False,
        min_lower=2,
        min_upper=2,
        min_numeric=2,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(generated.result)


def username(name: str, *, parent: pulumi.Resource, prefix: str = "admin") -> pulumi.Output[str]:
    """A login name that is not guessable (an access key, an admin user of a root account)."""
    # RandomString's schema does not mark `result` secret (RandomPassword's does): without this its
    # state would hold the value in plain text, whatever wraps the Output below.
    suffix = random.RandomString(
        name,
        length=12,
        special=False,
        upper=False,
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"]),
    )
    return pulumi.Output.secret(suffix.result.apply(lambda value: f"{prefix}-{value}"))


def fernet_key(name: str, *, parent: pulumi.Resource) -> pulumi.Output[str]:
    """32 random bytes, URL-safe base64: the form Fernet (Airflow, Superset) accepts as a key."""
    key = random.RandomBytes(name, length=32, opts=pulumi.ResourceOptions(parent=parent))
    return pulumi.Output.secret(key.base64.apply(lambda b64: b64.replace("+", "-").replace("/", "_")))


def hex_token(name: str, *, parent: pulumi.Resource, length: int = 32) -> pulumi.Output[str]:
    """`length` random bytes as hex: session secrets, proxy tokens, cookie secrets."""
    token = random.RandomBytes(name, length=length, opts=pulumi.ResourceOptions(parent=parent))
    return pulumi.Output.secret(token.hex)
