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
    return _generated(name, parent=parent, length=length, min_lower=2, min_upper=2, min_numeric=2)


def username(name: str, *, parent: pulumi.Resource, prefix: str = "admin") -> pulumi.Output[str]:
    """A login name that is not guessable (an access key, an admin user of a root account)."""
    suffix = _generated(name, parent=parent, length=12, upper=False)
    return pulumi.Output.secret(suffix.apply(lambda value: f"{prefix}-{value}"))


def fernet_key(name: str, *, parent: pulumi.Resource) -> pulumi.Output[str]:
    """A Fernet key (Airflow, Superset): 32 bytes as URL-safe base64. 42 random characters of that
    alphabet carry 252 bits; the 43rd, "A", the last 4 (zero) and the padding complete it."""
    drawn = _generated(name, parent=parent, length=42, special=True, override_special="-_")
    return pulumi.Output.secret(drawn.apply(lambda chars: chars + "A="))


def hex_token(name: str, *, parent: pulumi.Resource, length: int = 32) -> pulumi.Output[str]:
    """`length` random bytes as hex: session secrets, proxy tokens, cookie secrets."""
    return _generated(
        name, parent=parent, length=2 * length, upper=False, lower=False, special=True, override_special="abcdef"
    )


def _generated(
    name: str,
    *,
    parent: pulumi.Resource,
    length: int,
    upper: bool = True,
    lower: bool = True,
    special: bool = False,
    override_special: str | None = None,
    min_lower: int = 0,
    min_upper: int = 0,
    min_numeric: int = 0,
) -> pulumi.Output[str]:
    """Every value is a RandomPassword, whatever its alphabet: its id is "none", while a
    RandomString's or RandomBytes' id is the value itself (pulumi-random), which the state keeps in
    plain text whatever marks the outputs secret (seen in the real engine's state)."""
    generated = random.RandomPassword(
        name,
        length=length,
        upper=upper,
        lower=lower,
        numeric=True,
        special=special,
        override_special=override_special,
        min_lower=min_lower,
        min_upper=min_upper,
        min_numeric=min_numeric,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(generated.result)
