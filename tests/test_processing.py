"""The processing layer under mocks: Spark master/workers and Flink JobManager/TaskManagers."""

import json
import re

import pytest
import yaml

from components.platform import PROJECT_DIR
from components.processing import flink_s3_plugin
from tests.java_properties import parse_with_java
from tests.secret_files import private_to

PROCESSING_LAYER = "datalyptica:processing:ProcessingLayer"
SPARK_CONF = "/opt/spark/conf/spark-defaults.conf"
FLINK_CONF = "/opt/flink/conf/config.yaml"


def env(container) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in container.inputs["envs"])


def upload(container, path: str) -> dict:
    return next(u for u in container.inputs["uploads"] if u["file"] == path)


def joined(container) -> set[str]:
    return {n["name"] for n in container.inputs["networksAdvanced"]}


def s3_user(deployment, consumer: str):
    user = deployment.named(f"{consumer}-s3-user", "minio:index/iamUser:IamUser")
    return user.inputs["name"], user.inputs["secret"]


def test_dev_and_prod_run_the_configured_number_of_workers_inside_the_layer(dev, prod):
    for deployment, workers, taskmanagers in ((dev, 1, 1), (prod, 2, 2)):
        containers = deployment.containers()
        spark_workers = {n for n in containers if n.startswith("spark-worker")}
        assert {f"spark-worker-{i}" for i in range(1, workers + 1)} == spark_workers
        assert {f"flink-taskmanager-{i}" for i in range(1, taskmanagers + 1)} == {
            n for n in containers if n.startswith("flink-taskmanager")
        }
        for name in ("spark-master", "spark-worker-1", "flink-jobmanager", "flink-taskmanager-1"):
            chain = [r.type for r in deployment.ancestors(containers[name])]
            assert chain[:2] == ["datalyptica:platform:Service", PROCESSING_LAYER], name


def test_spark_runs_pass_through_spark_class_commands(prod):
    containers = prod.containers()
    assert containers["spark-master"].inputs["command"] == [
        "/opt/spark/bin/spark-class",
        "org.apache.spark.deploy.master.Master",
        "--host",
        "spark-master",
        "--port",
        "7077",
        "--webui-port",
        "8080",
    ]
    worker = containers["spark-worker-2"].inputs["command"]
    assert worker[:2] == ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.worker.Worker"]
    assert worker[-1] == "spark://spark-master:7077"
    assert worker[worker.index("--host") + 1] == "spark-worker-2"
    assert worker[worker.index("--cores") + 1] == "4"  # prod: 4 CPUs a worker
    executors_mb = int(worker[worker.index("--memory") + 1].removesuffix("m"))
    assert 512 <= executors_mb < containers["spark-worker-2"].inputs["memory"]
    assert containers["spark-master"].dependencies
    assert containers["spark-master"].urn in containers["spark-worker-2"].dependencies


def test_spark_listens_on_every_network_it_joins_and_advertises_its_name(prod):
    """Spark binds what its --host resolves to; on several networks that was one network's address
    only, and a worker whose DNS answered with the other was refused (found live)."""
    for name in ("spark-master", "spark-worker-1", "spark-worker-2"):
        container = prod.containers()[name]
        assert len(container.inputs["networksAdvanced"]) >= 2, name
        assert container.inputs["hosts"] == [{"host": name, "ip": "0.0.0.0"}], name
        assert container.inputs["hostname"] != name  # Docker would map it to each network's address
        assert env(container)["SPARK_LOCAL_HOSTNAME"] == name


def test_health_checks_and_metrics(dev):
    containers = dev.containers()
    checks = dev.health_checks()
    assert checks["spark-master"][1] == "curl" and checks["spark-master"][-1] == "http://localhost:8080/json/"
    assert checks["spark-worker-1"][1] == "curl" and checks["spark-worker-1"][-1] == "http://localhost:8081/json/"
    assert (
        checks["flink-jobmanager"][1] == "curl" and checks["flink-jobmanager"][-1] == "http://localhost:8081/overview"
    )
    assert checks["flink-taskmanager-1"][-1] == "http://localhost:9249/"

    def metrics(name):
        labels = {label["label"]: label["value"] for label in containers[name].inputs["labels"]}
        return labels.get("datalyptica.metrics.port"), labels.get("datalyptica.metrics.path")

    assert metrics("spark-master") == ("8080", "/metrics/master/prometheus")
    assert metrics("spark-worker-1") == ("8081", "/metrics/prometheus")
    assert metrics("flink-jobmanager") == metrics("flink-taskmanager-1") == ("9249", "/metrics")


def test_limits_come_from_settings(dev, prod):
    assert dev.containers()["spark-worker-1"].inputs["memory"] == 1536
    assert prod.containers()["flink-taskmanager-2"].inputs["memory"] == 4096
    assert prod.containers()["spark-master"].inputs["cpus"] == "1.0"


def test_ports_are_published_from_settings(dev):
    containers = dev.containers()

    def published(name):
        return {(p["internal"], p["external"], p["ip"]) for p in containers[name].inputs.get("ports", [])}

    assert published("spark-master") == {(7077, 7077, "127.0.0.1"), (8080, 8180, "127.0.0.1")}
    assert published("flink-jobmanager") == {(8081, 8181, "127.0.0.1")}
    assert not published("spark-worker-1") and not published("flink-taskmanager-1")
    assert dev.outputs["spark_master_url"] == "spark://localhost:7077"
    assert dev.outputs["flink_url"] == "http://localhost:8181"


def test_networks_processing_plus_storage_where_jobs_run(dev, deploy):
    containers = dev.containers()
    # Spawned notebooks reach the master, and the workers reach back to a notebook's driver.
    assert joined(containers["spark-master"]) == {"datalyptica-processing", "datalyptica-notebooks"}
    lake = {"datalyptica-processing", "datalyptica-storage", "datalyptica-streaming"}
    for name in ("spark-worker-1", "flink-jobmanager", "flink-taskmanager-1"):
        assert joined(containers[name]) - {"datalyptica-notebooks"} == lake, name
        assert containers[name].inputs["networksAdvanced"][0]["name"] == "datalyptica-processing", name
    without_streaming = deploy(layers=["storage", "processing"], protectData=False).containers()
    assert joined(without_streaming["spark-worker-1"]) == {"datalyptica-processing", "datalyptica-storage"}


def test_spark_defaults_parsed_by_java_point_iceberg_at_nessie_and_s3a_at_minio(dev):
    container = dev.containers()["spark-worker-1"]
    conf_file = upload(container, SPARK_CONF)
    assert private_to(container, SPARK_CONF, "185") and conf_file["content"]
    assert "uploads" in container.secret_inputs()
    conf = parse_with_java(conf_file["content"])
    access_key, secret_key = s3_user(dev, "spark")
    iceberg_and_s3a = {
        "spark.sql.catalog.nessie": "org.apache.iceberg.spark.SparkCatalog",
        "spark.sql.catalog.nessie.type": "rest",
        "spark.sql.catalog.nessie.uri": "http://nessie:19120/iceberg/main",
        "spark.sql.catalog.nessie.warehouse": "warehouse",
        "spark.sql.defaultCatalog": "nessie",
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.catalog.nessie.s3.endpoint": "http://minio:9000",
        "spark.sql.catalog.nessie.s3.path-style-access": "true",
        "spark.sql.catalog.nessie.s3.access-key-id": access_key,
        "spark.sql.catalog.nessie.s3.secret-access-key": secret_key,
        "spark.hadoop.fs.s3a.endpoint": "http://minio:9000",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.access.key": access_key,
        "spark.hadoop.fs.s3a.secret.key": secret_key,
    }
    assert {key: conf.get(key) for key in iceberg_and_s3a} == iceberg_and_s3a
    assert not {"spark.jars.packages", "spark.jars.ivy"} & conf.keys()  # nothing resolved at start: images/spark
    assert conf["spark.metrics.conf.*.sink.prometheusServlet.class"] == (
        "org.apache.spark.metrics.sink.PrometheusServlet"
    )
    assert conf["spark.metrics.conf.master.sink.prometheusServlet.path"] == "/metrics/master/prometheus"
    assert all(key.startswith("spark.") for key in conf)
    assert upload(dev.containers()["spark-master"], SPARK_CONF)["content"] == conf_file["content"]


def test_flink_config_yaml_keeps_checkpoints_and_savepoints_on_minio(dev, prod):
    for deployment in (dev, prod):
        containers = deployment.containers()
        config_file = upload(containers["flink-taskmanager-1"], FLINK_CONF)
        # Root's, read and rewritten (by the entrypoint) through group 0: Flink 2.2 starts as its user.
        assert (config_file["permissions"], config_file.get("owner")) == ("0660", None)
        assert containers["flink-taskmanager-1"].inputs["groupAdds"] == ["0"]
        config = yaml.safe_load(config_file["content"])
        access_key, secret_key = s3_user(deployment, "flink")
        assert config["execution.checkpointing.dir"] == "s3://flink/checkpoints"
        assert config["execution.checkpointing.savepoint-dir"] == "s3://flink/savepoints"
        assert (config["s3.endpoint"], config["s3.path.style.access"]) == ("http://minio:9000", True)
        assert (config["s3.access-key"], config["s3.secret-key"]) == (access_key, secret_key)
        assert config["jobmanager.rpc.address"] == config["rest.address"] == "flink-jobmanager"
        assert config["rest.port"] == 8081 and config["metrics.reporter.prom.port"] == 9249
        assert config["metrics.reporter.prom.factory.class"].endswith("PrometheusReporterFactory")
        taskmanager_mb = int(containers["flink-taskmanager-1"].inputs["memory"])
        jobmanager_mb = int(containers["flink-jobmanager"].inputs["memory"])
        assert config["taskmanager.memory.process.size"] == f"{taskmanager_mb * 9 // 10}m"
        assert config["jobmanager.memory.process.size"] == f"{jobmanager_mb * 9 // 10}m"
        assert all(isinstance(key, str) and "." in key for key in config)  # flat keys, none nested by mistake
        assert upload(containers["flink-jobmanager"], FLINK_CONF)["content"] == config_file["content"]
    assert (
        yaml.safe_load(upload(prod.containers()["flink-taskmanager-1"], FLINK_CONF)["content"])[
            "taskmanager.numberOfTaskSlots"
        ]
        == 4
    )


def test_flink_enables_the_s3_plugin_of_its_own_version(dev):
    containers = dev.containers()
    for name in ("flink-jobmanager", "flink-taskmanager-1"):
        assert env(containers[name])["ENABLE_BUILT_IN_PLUGINS"] == "flink-s3-fs-presto-2.2.1.jar"
        assert env(containers[name])["JOB_MANAGER_RPC_ADDRESS"] == "flink-jobmanager"
    assert containers["flink-jobmanager"].inputs["command"] == ["jobmanager"]
    assert containers["flink-taskmanager-1"].inputs["command"] == ["taskmanager"]
    with pytest.raises(ValueError, match="no Flink version"):
        flink_s3_plugin("registry.example/flink:latest")


def test_spark_and_flink_get_their_own_minio_users_and_buckets(dev):
    def policy_resources(consumer):
        policy = json.loads(dev.named(f"{consumer}-s3-policy", "minio:index/iamPolicy:IamPolicy").inputs["policy"])
        return {r for statement in policy["Statement"] for r in statement["Resource"]}

    assert policy_resources("spark") == {
        "arn:aws:s3:::warehouse",
        "arn:aws:s3:::warehouse/*",
        "arn:aws:s3:::landing",
        "arn:aws:s3:::landing/*",
    }
    assert policy_resources("flink") == {"arn:aws:s3:::flink", "arn:aws:s3:::flink/*"}
    bucket = dev.named("flink-bucket", "minio:index/s3Bucket:S3Bucket")
    assert bucket.inputs["bucket"] == "flink"
    for name in ("spark-s3-user", "flink-s3-user", "flink-bucket"):
        assert PROCESSING_LAYER in [r.type for r in dev.ancestors(dev.named(name))], name
    containers = dev.containers()
    assert dev.named("flink-s3-user").urn in containers["flink-taskmanager-1"].dependencies
    assert dev.named("spark-s3-policy-attachment").urn in containers["spark-worker-1"].dependencies


def test_spark_connect_is_a_driver_on_the_cluster_whose_token_only_it_and_airflow_hold(dev, prod):
    containers = dev.containers()
    connect = containers["spark-connect"]
    assert connect.inputs["command"] == [
        "/opt/spark/bin/spark-submit",
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name",
        "Spark Connect",
    ]
    assert connect.inputs["image"] == containers["spark-master"].inputs["image"]
    assert env(connect)["SPARK_LOCAL_HOSTNAME"] == "spark-connect"  # executors reach back to this driver
    assert connect.inputs["hosts"] == [{"host": "spark-connect", "ip": "0.0.0.0"}]
    assert joined(connect) >= {"datalyptica-processing", "datalyptica-storage"}
    assert not connect.inputs.get("ports")  # on the platform's networks only
    assert dev.health_checks()["spark-connect"][-1] == "exec 3<>/dev/tcp/127.0.0.1/15002"
    assert containers["spark-master"].urn in connect.dependencies

    conf = parse_with_java(upload(connect, SPARK_CONF)["content"])
    assert private_to(connect, SPARK_CONF, "185") and "uploads" in connect.secret_inputs()
    token = conf["spark.connect.authenticate.token"]
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert conf["spark.master"] == "spark://spark-master:7077"
    assert conf["spark.connect.grpc.binding.port"] == "15002"
    assert conf["spark.driver.memory"] == "640m"  # 5/8 of dev's 1g
    assert env(connect)["SPARK_DAEMON_MEMORY"] == "640m"  # what spark-submit sizes this JVM by
    assert conf["spark.dynamicAllocation.enabled"] == "true" and conf["spark.dynamicAllocation.minExecutors"] == "0"
    assert conf["spark.dynamicAllocation.maxExecutors"] == "1"
    # Idle executors go back to the cluster even after a shuffle or a cache (kept forever by default).
    assert conf["spark.dynamicAllocation.shuffleTracking.timeout"] == "60s"
    assert conf["spark.dynamicAllocation.cachedExecutorIdleTimeout"] == "120s"
    assert prod.containers()["spark-connect"].inputs["memory"] == 2048
    prod_conf = parse_with_java(upload(prod.containers()["spark-connect"], SPARK_CONF)["content"])
    assert prod_conf["spark.dynamicAllocation.maxExecutors"] == "2"  # one executor per worker at most
    # The same catalog and keys as every other driver; the token in no other Spark container's file.
    shared = parse_with_java(upload(containers["spark-worker-1"], SPARK_CONF)["content"])
    assert {key: conf[key] for key in shared} == shared
    for name in ("spark-master", "spark-worker-1"):
        assert token not in upload(containers[name], SPARK_CONF)["content"], name

    airflow = json.loads(upload(containers["airflow-worker-1"], "/opt/airflow/config/connections.json")["content"])
    assert airflow["spark_connect_default"] == {
        "conn_type": "spark_connect",
        "host": "spark-connect",
        "port": 15002,
        "login": "airflow",
        "password": token,
    }
    assert connect.urn in containers["airflow-worker-1"].dependencies


def test_no_secret_in_the_environment_of_processing_containers(dev):
    # (no generated secret in plain text anywhere: tests/test_storage.py checks the whole stack)
    for name in ("spark-master", "spark-worker-1", "spark-connect", "flink-jobmanager", "flink-taskmanager-1"):
        assert "envs" not in dev.containers()[name].secret_inputs(), name


def test_processing_with_only_storage_registers_nothing_of_other_layers(deploy):
    alone = deploy(layers=["storage", "processing"], protectData=False)
    layers = {r.type for r in alone.registered if r.type.startswith("datalyptica:") and r.type.endswith("Layer")}
    assert layers == {"datalyptica:storage:StorageLayer", PROCESSING_LAYER}
    assert {"spark-master", "spark-worker-1", "flink-jobmanager", "flink-taskmanager-1"} <= set(alone.containers())
    assert not {name for name in alone.containers() if name.startswith("kafka")}


def test_the_spark_image_bakes_in_checksummed_jars_built_for_its_spark_release():
    dockerfile = (PROJECT_DIR / "images" / "spark" / "Dockerfile").read_text()
    spark_version = re.search(r"^ARG SPARK_VERSION=(\d+)\.(\d+)\.\d+$", dockerfile, re.M)
    jars = dict(re.findall(r"^([\w./-]+\.jar)=([0-9a-f]{64})(?: \\)?\"?$", dockerfile, re.M))
    names = {path.rsplit("/", 1)[1] for path in jars}
    assert spark_version and len(jars) == 4, dockerfile
    spark_minor = ".".join(spark_version.groups())
    assert any(name.startswith(f"iceberg-spark-runtime-{spark_minor}_2.13-") for name in names), names
    assert any(name.startswith("iceberg-aws-bundle-") for name in names), names
    assert any(name.startswith("hadoop-aws-") for name in names), names
