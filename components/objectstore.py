"""The platform's object store, MinIO or SeaweedFS (`datalyptica:objectStore`), behind one interface.

Consumers see only `ObjectStore.buckets(consumer, names, parent=)`, which returns a
`BucketAccess`: the buckets exist, and the consumer has its own S3 key pair whose permissions
name only those buckets. Every consumer reaches the store at `endpoint`, `http://<service>:<port>`
on the storage network, with path-style requests in region `S3_REGION`.

MinIO is provisioned by pulumi-minio through its published API port. SeaweedFS is provisioned
by one-shot jobs on the storage network (see `SeaweedStore`), because the only thing that may
touch it is what the program expresses as containers.
"""

import json
from collections.abc import Sequence

import pulumi
import pulumi_docker as docker
import pulumi_minio as minio

from components import secrets
from components.endpoints import BucketAccess
from components.layer import Layer
from components.service import File, HealthCheck, InitJob, Metrics, Port, Server, Service, ServiceArgs
from components.sso import OidcClient
from components.templates import render_output, static_config

S3_REGION = "us-east-1"
MINIO_API_PORT = 9000
MINIO_CONSOLE_PORT = 9001
# What a MinIO console user who logged in through Keycloak may do (MinIO's built-in policy).
MINIO_SSO_POLICY = "readwrite"


def bucket_policy(buckets: Sequence[str]) -> str:
    """An IAM policy that allows everything on these buckets and their objects, nothing else (MinIO)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    "Resource": [f"arn:aws:s3:::{bucket}" for bucket in buckets],
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:*Object", "s3:*ObjectTagging", "s3:*MultipartUpload", "s3:ListMultipartUploadParts"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*" for bucket in buckets],
                },
            ],
        },
        sort_keys=True,
    )


class ObjectStore:
    """What the storage layer and every consumer use of the object store, whichever it is."""

    service: Service  # the store's container: what `buckets()` provisioning waits for
    host: str  # the name it answers to on its networks
    port: int  # its S3 API inside the platform
    region: str = S3_REGION
    credentials: dict[str, pulumi.Output[str]]  # secret stack outputs: the store's admin login

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def buckets(
        self, consumer: str, buckets: Sequence[str], *, parent: pulumi.Resource, sets_object_acls: bool = False
    ) -> BucketAccess:
        """`sets_object_acls`: the consumer's S3 client sends an ACL with every upload (Flink's presto
        file system: `x-amz-acl: private`), which S3 authorizes as s3:PutObjectAcl as well."""
        raise NotImplementedError

    def ensure_buckets(self, buckets: Sequence[str], *, parent: pulumi.Resource) -> None:
        """Buckets that exist whoever uses them (the lake's), without any identity."""
        raise NotImplementedError


def object_store(
    layer: Layer,
    *,
    networks: Sequence[docker.Network],
    sso: OidcClient | None,
    identity_provider: Sequence[pulumi.Resource] = (),
) -> ObjectStore:
    """The object store the stack chose, as services of `layer`; `sso` is the MinIO console's
    client (SeaweedFS has no console), `identity_provider` what MinIO waits for with it."""
    if layer.settings.object_store == "seaweedfs":
        return SeaweedStore(layer, networks=networks)
    return MinioStore(layer, networks=networks, sso=sso, identity_provider=identity_provider)


# ---- MinIO --------------------------------------------------------------------------------------


class MinioStore(ObjectStore):
    host = "minio"
    port = MINIO_API_PORT

    def __init__(
        self,
        layer: Layer,
        *,
        networks: Sequence[docker.Network],
        sso: OidcClient | None,
        identity_provider: Sequence[pulumi.Resource],
    ):
        self._layer = layer
        self._networks = tuple(networks)
        self.root_user = secrets.username("minio-root-user", parent=layer, prefix="root")
        self.root_password = secrets.password("minio-root-password", parent=layer)
        self.service = self._container(sso, identity_provider)
        self._provider = self._admin_provider()
        self._buckets: dict[str, minio.S3Bucket] = {}
        self.credentials = {"minio_root_user": self.root_user, "minio_root_password": self.root_password}

    def buckets(
        self, consumer: str, buckets: Sequence[str], *, parent: pulumi.Resource, sets_object_acls: bool = False
    ) -> BucketAccess:
        """The consumer's own MinIO user, allowed on these buckets only (created when missing).
        MinIO has no ACLs and takes an upload's ACL header without checking it: `sets_object_acls`
        needs nothing more here."""
        bucket_resources = [self._bucket(bucket, parent=parent) for bucket in buckets]
        options = pulumi.ResourceOptions(parent=parent, provider=self._provider)
        secret_key = secrets.password(f"{consumer}-s3-secret-key", parent=parent, length=40)
        user = minio.IamUser(f"{consumer}-s3-user", name=f"{consumer}-s3", secret=secret_key, opts=options)
        policy = minio.IamPolicy(
            f"{consumer}-s3-policy",
            name=f"{consumer}-buckets",
            policy=bucket_policy(buckets),
            opts=pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(depends_on=bucket_resources)),
        )
        attachment = minio.IamUserPolicyAttachment(
            f"{consumer}-s3-policy-attachment",
            user_name=user.name,
            policy_name=policy.name,
            opts=options,
        )
        return BucketAccess(
            endpoint=self.endpoint,
            region=self.region,
            buckets=tuple(buckets),
            access_key=pulumi.Output.secret(user.name),
            secret_key=secret_key,
            resources=(*bucket_resources, user, policy, attachment),
            networks=self._networks,
        )

    def ensure_buckets(self, buckets: Sequence[str], *, parent: pulumi.Resource) -> None:
        for bucket in buckets:
            self._bucket(bucket, parent=parent)

    def _container(self, sso: OidcClient | None, identity_provider: Sequence[pulumi.Resource]) -> Service:
        env_file = "/etc/minio/config.env"
        config = render_output(
            "minio/config.env.j2",
            root_user=self.root_user,
            root_password=self.root_password,
            sso=_minio_sso_values(sso),
        )
        # MinIO's IAM waits at start until the OpenID discovery document answers: with SSO,
        # MinIO starts after Keycloak, or the users provisioned below would fail meanwhile.
        return self._layer.service(
            "minio",
            ServiceArgs(
                spec=self._layer.spec("minio"),
                lifecycle=Server(HealthCheck.command("mc", "ready", "local")),
                networks=[*self._networks, *([sso.network] if sso and sso.network else [])],
                command=["server", "/data", "--console-address", f":{MINIO_CONSOLE_PORT}"],
                env={"MINIO_CONFIG_ENV_FILE": env_file},
                files=[File(env_file, config, secret=True, owner="0")],
                volumes={"data": "/data"},
                ports=[Port("minio", MINIO_API_PORT), Port("minio-console", MINIO_CONSOLE_PORT)],
                metrics=Metrics(MINIO_API_PORT, "/minio/v2/metrics/cluster"),
                depends_on=identity_provider if sso else (),
            ),
        )

    def _admin_provider(self) -> minio.Provider:
        """Connects through the API port as published on the Docker host."""
        settings = self._layer.settings
        return minio.Provider(
            "minio-admin",
            minio_server=f"{settings.endpoint_host}:{settings.host_port('minio')}",
            minio_user=self.root_user,
            minio_password=self.root_password,
            minio_region=S3_REGION,
            minio_ssl=False,
            opts=pulumi.ResourceOptions(parent=self._layer, depends_on=[self.service.container]),
        )

    def _bucket(self, name: str, *, parent: pulumi.Resource) -> minio.S3Bucket:
        if name not in self._buckets:
            protect = self._layer.settings.protect_data
            self._buckets[name] = minio.S3Bucket(
                f"{name}-bucket",
                bucket=name,
                acl="private",
                force_destroy=not protect,
                opts=pulumi.ResourceOptions(
                    parent=parent, provider=self._provider, protect=protect, retain_on_delete=protect
                ),
            )
        return self._buckets[name]


def _minio_sso_values(sso: OidcClient | None) -> pulumi.Input[dict] | None:
    if sso is None:
        return None
    return pulumi.Output.all(client_secret=sso.client_secret).apply(
        lambda values: {
            "config_url": sso.discovery_url,
            "client_id": sso.client_id,
            "client_secret": values["client_secret"],
            "redirect_uri": sso.redirect_uri,
            "role_policy": MINIO_SSO_POLICY,
        }
    )


# ---- SeaweedFS ----------------------------------------------------------------------------------

SEAWEEDFS_S3_PORT = 8333  # the S3 gateway's default port (`weed server -s3.port`)
SEAWEEDFS_METRICS_PORT = 9324
SEAWEEDFS_UID = "1000"  # the image's `seaweed` user, which its entrypoint drops to
SEAWEEDFS_IDENTITIES = "/etc/seaweedfs/s3.json"  # the admin identity, read at start (-s3.config)
PROVISION_DIR = "/etc/datalyptica-s3"  # in a provisioning job: its script, admin login, key and policy
PROVISION_SCRIPT = "configs/seaweedfs/provision.sh"
# Per-bucket actions an identity gets (SeaweedFS's IAM maps each to Read, Write, List, Tagging,
# ListBucketMultipartUploads or ListMultipartUploadParts on the bucket: weed/iam/helpers.go).
SEAWEEDFS_BUCKET_ACTIONS = (
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListMultipartUploadParts",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
    "s3:DeleteObjectTagging",
)


def seaweedfs_identity_policy(buckets: Sequence[str], *, sets_object_acls: bool = False) -> str:
    """The policy an identity gets through SeaweedFS's IAM API: these buckets and their objects only;
    with `sets_object_acls`, also s3:PutObjectAcl (WriteAcp), which SeaweedFS checks on an upload
    that carries an ACL header (weed/s3api/s3api_object_upload_acl.go), as S3 does.

    SeaweedFS turns it into the identity's actions, e.g. `Read:warehouse` (PutUserPolicy ->
    getActions in weed/s3api/s3api_embedded_iam.go); it knows exact action names, no wildcards.
    """
    resources = [arn for bucket in buckets for arn in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*")]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [*SEAWEEDFS_BUCKET_ACTIONS, *(["s3:PutObjectAcl"] if sets_object_acls else [])],
                    "Resource": resources,
                }
            ],
        },
        sort_keys=True,
    )


def seaweedfs_admin_identities(access_key: str, secret_key: str) -> str:
    """The static identities file (`-s3.config`): the admin alone.

    With at least one identity SeaweedFS refuses unsigned requests (no identity at all means
    anonymous access: `isAuthEnabled = len(iam.identities) > 0` in weed/s3api/auth_credentials.go).
    Consumers' identities are added through the IAM API and kept by the filer in the data volume;
    the gateway merges them with the static ones at start and on every change (same file).
    """
    return json.dumps(
        {
            "identities": [
                {
                    "name": "datalyptica-admin",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        },
        indent=2,
        sort_keys=True,
    )


def seaweedfs_access_key(consumer: str) -> str:
    """A consumer's access key id: SeaweedFS takes 4-128 letters and digits only (weed/iam/validation.go)."""
    return consumer.replace("-", "") + "s3"


class SeaweedStore(ObjectStore):
    """SeaweedFS in one container (`weed server`: master, volume, filer and S3 gateway).

    Mechanism, read from seaweedfs/seaweedfs at the pinned release (module commit 7506e5f91cd6):
    - Master, volume server and filer listen on 127.0.0.1 only (`-ip`, `-ip.bind`), so nothing
      on the storage network reaches the filer's HTTP API or a volume without S3 signatures; only
      the S3 gateway (`-s3.ip.bind`) and the metrics port (`-metricsIp`) listen on every address
      (weed/command/server.go). `-ip=127.0.0.1` is also the volume server's identity in the
      master's state, so it stays the same when the container is replaced.
    - The admin identity comes from a static file (`-s3.config`, 0400 to the seaweed user).
    - Buckets and each consumer's identity are made by a one-shot job per consumer that runs
      configs/seaweedfs/provision.sh with the image's curl: S3 `PUT /<bucket>` and the embedded
      IAM API on the S3 port (`-s3.iam`, writable with `-s3.iam.readOnly=false`): CreateUser,
      CreateAccessKey with the consumer's own key pair, PutUserPolicy naming only its buckets
      (weed/s3api/s3api_embedded_iam.go). The admin signs each request (curl --aws-sigv4); every
      secret reaches the job as a 0400 file, never its command line or environment.
    - Those identities are stored by the filer (credential store `filer_etc`, under /etc/iam in
      the filer, so in the data volume) and merged with the static ones, which stay immutable
      (weed/s3api/auth_credentials.go, NewIdentityAccessManagementWithStore): adding a consumer
      adds one identity and touches no other identity, bucket or object, nor the store's container.
    """

    host = "seaweedfs"
    port = SEAWEEDFS_S3_PORT

    def __init__(self, layer: Layer, *, networks: Sequence[docker.Network]):
        self._layer = layer
        self._networks = tuple(networks)
        self.admin_access_key = secrets.password("seaweedfs-admin-access-key", parent=layer, length=20)
        self.admin_secret_key = secrets.password("seaweedfs-admin-secret-key", parent=layer, length=40)
        self.service = self._container()
        self._access_keys: dict[str, str] = {}
        self.credentials = {
            "seaweedfs_admin_access_key": self.admin_access_key,
            "seaweedfs_admin_secret_key": self.admin_secret_key,
        }

    def buckets(
        self, consumer: str, buckets: Sequence[str], *, parent: pulumi.Resource, sets_object_acls: bool = False
    ) -> BucketAccess:
        """The consumer's own SeaweedFS identity, allowed on these buckets only (created when missing)."""
        access_key = seaweedfs_access_key(consumer)
        if self._access_keys.setdefault(access_key, consumer) != consumer:
            raise ValueError(f"{consumer} and {self._access_keys[access_key]} would share the access key {access_key}")
        secret_key = secrets.password(f"{consumer}-s3-secret-key", parent=parent, length=40)
        policy = seaweedfs_identity_policy(buckets, sets_object_acls=sets_object_acls)
        identity = (f"{consumer}-s3", access_key, secret_key, policy)
        job = self._provision(f"{consumer}-s3-identity", buckets, parent=parent, identity=identity)
        # The key pair is usable once the job has made it: a consumer's files that hold it can
        # only be written after the job succeeded (and never when it failed).
        made = job.succeeded
        return BucketAccess(
            endpoint=self.endpoint,
            region=self.region,
            buckets=tuple(buckets),
            access_key=pulumi.Output.secret(made.apply(lambda _: access_key)),
            secret_key=pulumi.Output.secret(pulumi.Output.all(made, secret_key).apply(lambda values: values[1])),
            resources=(job.container,),
            networks=self._networks,
        )

    def ensure_buckets(self, buckets: Sequence[str], *, parent: pulumi.Resource) -> None:
        self._provision("seaweedfs-buckets", buckets, parent=parent)

    def _container(self) -> Service:
        settings = self._layer.settings
        identities = pulumi.Output.all(self.admin_access_key, self.admin_secret_key).apply(
            lambda keys: seaweedfs_admin_identities(keys[0], keys[1])
        )
        return self._layer.service(
            self.host,
            ServiceArgs(
                spec=settings.service("seaweedfs"),
                # The image is Alpine with curl added (docker/Dockerfile.go_build).
                lifecycle=Server(HealthCheck.curl(f"http://localhost:{SEAWEEDFS_S3_PORT}/healthz")),
                networks=self._networks,
                # The image's entrypoint adds -dir=/data (the volume) for `server` and drops to the
                # seaweed user (docker/entrypoint.sh).
                command=[
                    "server",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    "-filer",
                    "-s3",
                    f"-s3.port={SEAWEEDFS_S3_PORT}",
                    "-s3.ip.bind=0.0.0.0",
                    f"-s3.config={SEAWEEDFS_IDENTITIES}",
                    "-s3.iam.readOnly=false",
                    # Off: the S3 gateway's Iceberg REST and Lance servers (the platform's catalog is
                    # Nessie), and the master's anonymous usage report to telemetry.seaweedfs.com.
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    "-master.telemetry=false",
                    f"-metricsPort={SEAWEEDFS_METRICS_PORT}",
                    "-metricsIp=0.0.0.0",
                ],
                files=[File(SEAWEEDFS_IDENTITIES, identities, secret=True, owner=SEAWEEDFS_UID)],
                volumes={"data": "/data"},
                ports=[Port("seaweedfs", SEAWEEDFS_S3_PORT)],
                metrics=Metrics(SEAWEEDFS_METRICS_PORT),
            ),
        )

    def _provision(
        self,
        name: str,
        buckets: Sequence[str],
        *,
        parent: pulumi.Resource,
        identity: tuple[str, str, pulumi.Output[str], str] | None = None,
    ) -> Service:
        """A job that makes `buckets` and, with `identity` (user, access key, secret key, policy),
        that identity allowed on them only; it waits for the store to be healthy."""
        spec = self._layer.spec("seaweedfs").init_job(name)
        admin_login = pulumi.Output.all(self.admin_access_key, self.admin_secret_key).apply(
            lambda keys: f'user = "{keys[0]}:{keys[1]}"\n'
        )
        files = [
            File(
                f"{PROVISION_DIR}/provision.sh",
                static_config("seaweedfs/provision.sh"),
                owner=SEAWEEDFS_UID,
                executable=True,
            ),
            File(f"{PROVISION_DIR}/admin.curlrc", admin_login, secret=True, owner=SEAWEEDFS_UID),
        ]
        command = [f"{PROVISION_DIR}/provision.sh", self.endpoint, self.region, ",".join(buckets)]
        if identity is not None:
            user, access_key, secret_key, policy = identity
            files += [
                File(f"{PROVISION_DIR}/secret-key", secret_key, secret=True, owner=SEAWEEDFS_UID),
                File(f"{PROVISION_DIR}/policy.json", policy, owner=SEAWEEDFS_UID),
            ]
            command += [user, access_key]
        return self._layer.service(
            name,
            ServiceArgs(
                spec=spec,
                lifecycle=InitJob(),
                networks=self._networks,
                entrypoint=["/bin/sh"],
                command=command,
                files=files,
                user=SEAWEEDFS_UID,
                depends_on=[self.service.container],
            ),
            parent=parent,
        )
