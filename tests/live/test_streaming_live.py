"""Kafka, the schema registry and Kafka Connect with Debezium on the e2e stack, as a user works with them.

Kafka: a client on this machine produces through the brokers' published listeners and a client in
a broker's container consumes through the internal one, and the other way round; a new topic gets
the replication the stack configures; a broker restarted under a producer loses no acknowledged
message. Debezium: the CDC connector the platform registered during `pulumi up` turns a row inserted
into a table created afterwards in the `cdc` database into an Avro change event whose schema the
registry holds; after the Connect
worker restarts, the connector resumes from its offset and the rows inserted meanwhile arrive; after
PostgreSQL fails over, it streams on from the new leader and no change is lost.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import docker
import fastavro
import psycopg
import pytest
import requests
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from components.streaming import (
    APICURIO_PORT,
    CDC_CONNECTOR,
    CDC_DATABASE,
    KAFKA_CONNECT_PORT,
    KAFKA_INTERNAL_PORT,
)
from tests.integration.pgcluster import wait_for
from tests.live.conftest import record
from tests.live.deploy import LiveDeployment
from tests.live.pgcluster import DockerPgCluster
from tests.live.stack import (
    connect_database,
    container_name,
    containers,
    exec_in,
    memory_inside_limits,
    published_url,
    servers,
    wait_healthy,
)

KAFKA_SECONDS = 120
CDC_SECONDS = 180
RESTART_PRODUCER_SECONDS = 40  # the producer runs this long, the broker restart in its middle
WAITING = {KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART}


@pytest.fixture(scope="module")
def streaming(e2e_settings) -> None:
    if not e2e_settings.enabled("streaming"):
        pytest.fail("the e2e stack must deploy the streaming layer (Pulumi.e2e.yaml datalyptica:layers)")


@pytest.fixture(scope="module")
def brokers(e2e: LiveDeployment, streaming) -> list[str]:
    """The brokers' containers, kafka-1 first."""
    names = sorted(name for name in containers(e2e) if name.startswith("kafka-") and name[6:].isdigit())
    assert names, "no broker in the deployment"
    return [container_name(containers(e2e)[name]) for name in names]


@pytest.fixture(scope="module")
def bootstrap(e2e: LiveDeployment, brokers) -> str:
    """The published listeners, as the stack output `kafka_bootstrap_url` names them."""
    published = e2e.outputs["kafka_bootstrap_url"]
    assert published.count(",") == len(brokers) - 1, published
    return published


def topic_name(what: str) -> str:
    return f"e2e-{what}-{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    """A topic with the brokers' defaults (replication factor, min.insync.replicas)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.create_topics([NewTopic(name, num_partitions=partitions)]).values()
    future.result(timeout=60)


def produce(bootstrap: str, topic: str, values: list[str]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    failures: list[Any] = []
    for value in values:
        producer.produce(topic, value.encode(), on_delivery=lambda error, _msg: error and failures.append(error))
    assert producer.flush(60) == 0 and not failures, failures


def messages_from_the_start(bootstrap: str, topic: str, timeout: float) -> Iterator[Any]:
    """The topic's messages from its first one, in a consumer group of its own, until the timeout."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"e2e-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                # A change topic exists only from its first event on: until then it is unknown.
                assert message.error().code() in WAITING, message.error()
                continue
            yield message
    finally:
        consumer.close()


def consume(bootstrap: str, topic: str, count: int, timeout: float = KAFKA_SECONDS) -> list[Any]:
    """The first `count` messages of the topic (fewer if the timeout comes first)."""
    messages: list[Any] = []
    for message in messages_from_the_start(bootstrap, topic, timeout):
        messages.append(message)
        if len(messages) == count:
            break
    return messages


def console(api: docker.APIClient, broker: str, script: str) -> str:
    """Kafka's console tools in a broker's container, against the internal listener."""
    status, output = exec_in(api, broker, ["bash", "-c", script])
    assert status == 0, output[-4000:]
    return output


# ---- Kafka ----------------------------------------------------------------------------------------


def test_a_new_topic_is_replicated_on_every_broker_with_writes_needing_all_but_one(bootstrap: str, brokers: list[str]):
    topic = topic_name("replicated")
    create_topic(bootstrap, topic, partitions=3)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    described = admin.list_topics(topic, timeout=30).topics[topic]
    replication = min(3, len(brokers))
    for partition in described.partitions.values():
        assert len(partition.replicas) == replication and len(partition.isrs) == replication, partition
    [config] = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    assert config.result(timeout=30)["min.insync.replicas"].value == str(max(1, replication - 1))


def test_published_listener_to_internal_listener_and_back(api: docker.APIClient, bootstrap: str, brokers: list[str]):
    outward, inward = topic_name("outward"), topic_name("inward")
    create_topic(bootstrap, outward)
    create_topic(bootstrap, inward)
    internal = f"kafka-1:{KAFKA_INTERNAL_PORT}"

    produce(bootstrap, outward, ["from-the-host-1", "from-the-host-2"])
    consumed = console(
        api,
        brokers[-1],
        f"/opt/kafka/bin/kafka-console-consumer.sh --bootstrap-server {internal} --topic {outward} "
        "--from-beginning --max-messages 2 --timeout-ms 60000",
    )
    assert [line for line in consumed.splitlines() if line.startswith("from-")] == [
        "from-the-host-1",
        "from-the-host-2",
    ], consumed

    console(
        api,
        brokers[-1],
        f"printf 'from-a-container-1\\nfrom-a-container-2\\n' | /opt/kafka/bin/kafka-console-producer.sh "
        f"--bootstrap-server {internal} --topic {inward} --producer-property acks=all",
    )
    assert [m.value().decode() for m in consume(bootstrap, inward, 2)] == ["from-a-container-1", "from-a-container-2"]


def test_a_broker_restarted_under_a_producer_loses_no_acknowledged_message(
    api: docker.APIClient, bootstrap: str, brokers: list[str]
):
    topic = topic_name("restart")
    create_topic(bootstrap, topic)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "delivery.timeout.ms": 120000,
            "linger.ms": 5,
        }
    )
    acknowledged: list[int] = []
    failed: list[str] = []

    def delivered(error, message) -> None:
        if error is None:
            acknowledged.append(int(message.value()))
        else:
            failed.append(str(error))

    stop = threading.Event()

    def write() -> None:
        sequence = 0
        while not stop.is_set():
            producer.produce(topic, str(sequence).encode(), on_delivery=delivered)
            producer.poll(0)
            sequence += 1
            time.sleep(0.005)
        producer.flush(120)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(RESTART_PRODUCER_SECONDS / 4)
        # The leader of the topic's partition, so the producer must move to another broker.
        leader = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=30).topics[topic]
        leader_id = leader.partitions[0].leader
        restarted = time.monotonic()
        api.restart(brokers[leader_id - 1], timeout=120)
        record("kafka_broker_restart_seconds", round(time.monotonic() - restarted, 1))
        time.sleep(RESTART_PRODUCER_SECONDS / 2)
    finally:
        stop.set()
        writer.join(timeout=180)
    assert not writer.is_alive()
    wait_healthy(api, brokers[leader_id - 1])
    assert acknowledged, f"nothing was acknowledged: {failed[:5]}"
    read = {int(m.value()) for m in consume(bootstrap, topic, len(acknowledged), timeout=180)}
    lost = set(acknowledged) - read
    record("kafka_restart_messages", {"acknowledged": len(acknowledged), "failed": len(failed), "lost": len(lost)})
    assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {sorted(lost)[:10]}"


# ---- The schema registry and Debezium -------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(e2e: LiveDeployment, streaming) -> str:
    """Apicurio Registry's API root on its published port."""
    return published_url(e2e, "apicurio-registry", APICURIO_PORT) + "/apis"


@pytest.fixture(scope="module")
def connect(e2e: LiveDeployment, streaming) -> str:
    return container_name(containers(e2e)["kafka-connect"])


def connector_state(e2e: LiveDeployment) -> dict:
    url = published_url(e2e, "kafka-connect", KAFKA_CONNECT_PORT)
    response = requests.get(f"{url}/connectors/{CDC_CONNECTOR}/status", timeout=10)
    return response.json() if response.ok else {}


def connector_running(e2e: LiveDeployment) -> bool:
    state = connector_state(e2e)
    tasks = state.get("tasks", [])
    return state.get("connector", {}).get("state") == "RUNNING" and bool(tasks) and tasks[0]["state"] == "RUNNING"


@pytest.fixture(scope="module")
def cdc_table(e2e: LiveDeployment, bootstrap: str, registry: str) -> Iterator[str]:
    """A table created in the `cdc` database after `pulumi up`, captured by the connector the
    platform registered (no one registers it here): its row 0 has arrived as an insert (`op` c)."""
    wait_for(lambda: connector_running(e2e), timeout=CDC_SECONDS, what="the CDC connector running", interval=2)
    table = f"e2e_orders_{uuid.uuid4().hex[:8]}"
    with connect_database(e2e, CDC_DATABASE) as connection:
        connection.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, item TEXT NOT NULL, quantity INT NOT NULL)")
    started = time.monotonic()
    insert(e2e, table, (0, "in a table made after the connector", 1))
    [first] = consume(bootstrap, change_topic(table), 1, timeout=CDC_SECONDS)
    assert decode(registry, first)[1]["op"] == "c"
    record("cdc_new_table_first_event_seconds", round(time.monotonic() - started, 1))
    yield table


def insert(e2e: LiveDeployment, table: str, *rows: tuple[int, str, int]) -> None:
    with connect_database(e2e, CDC_DATABASE) as connection:
        for row in rows:
            connection.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)", row)


def change_topic(table: str) -> str:
    return f"{CDC_DATABASE}.public.{table}"


def decode(registry: str, message: Any) -> tuple[dict, dict]:
    """An Avro record the Apicurio converter wrote: the schema the registry holds for it, by the id
    the record carries (magic byte 0 and a 4-byte content id, as Confluent's format), and the record
    read with that schema and the schemas it references (Apicurio registers Debezium's nested
    records, `<topic>.Value` and the source block, as artifacts of their own)."""
    payload = message.value()
    assert payload[:1] == b"\0", f"no registry id in the record: {payload[:16]!r}"
    content_id = int.from_bytes(payload[1:5], "big")
    schema_url = f"{registry}/registry/v3/ids/contentIds/{content_id}"
    schema = _get(schema_url)
    named: dict[str, Any] = {}
    _parse_references(registry, _get(f"{schema_url}/references"), named)
    parsed = fastavro.parse_schema(schema, named_schemas=named)
    return schema, fastavro.schemaless_reader(BytesIO(payload[5:]), parsed)  # type: ignore[return-value]


def _get(url: str) -> Any:
    response = requests.get(url, timeout=10)
    assert response.ok, f"the registry has nothing at {url}: {response.status_code} {response.text[:300]}"
    return response.json()


def _parse_references(registry: str, references: list[dict], named: dict[str, Any]) -> None:
    """Each referenced schema into `named`, what it references first."""
    for reference in references:
        if reference["name"] in named:
            continue
        version = (
            f"{registry}/registry/v3/groups/{reference.get('groupId') or 'default'}/artifacts/"
            f"{reference['artifactId']}/versions/{reference['version']}"
        )
        _parse_references(registry, _get(f"{version}/references"), named)
        fastavro.parse_schema(_get(f"{version}/content"), named_schemas=named)


def captured_ids(
    bootstrap: str, registry: str, table: str, expected: set[int], timeout: float = CDC_SECONDS
) -> list[int]:
    """The ids in the `after` images of the table's change events, in order, read until every id
    of `expected` came (or the timeout). Connect delivers at least once: an id may come twice."""
    ids: list[int] = []
    for message in messages_from_the_start(bootstrap, change_topic(table), timeout):
        ids.append(decode(registry, message)[1]["after"]["id"])
        if expected <= set(ids):
            break
    return ids


def test_a_row_inserted_into_the_cdc_database_arrives_as_an_avro_change_event_through_the_registry(
    e2e: LiveDeployment, bootstrap: str, registry: str, cdc_table: str
):
    inserted = time.monotonic()
    insert(e2e, cdc_table, (1, "espresso beans", 3))
    [_snapshot, event] = consume(bootstrap, change_topic(cdc_table), 2, timeout=CDC_SECONDS)
    record("cdc_insert_to_event_seconds", round(time.monotonic() - inserted, 1))
    schema, change = decode(registry, event)
    assert change["op"] == "c" and change["after"] == {"id": 1, "item": "espresso beans", "quantity": 3}, change
    assert schema["type"] == "record", schema
    # The registry knows the topic's value schema as the converter registered it (Confluent's API too).
    subjects = requests.get(f"{registry}/ccompat/v7/subjects", timeout=10).json()
    assert f"{change_topic(cdc_table)}-value" in subjects, subjects


def test_the_connector_resumes_from_its_offset_after_the_connect_worker_restarts(
    e2e: LiveDeployment, api: docker.APIClient, bootstrap: str, registry: str, cdc_table: str, connect: str
):
    insert(e2e, cdc_table, (2, "filters", 100))
    api.stop(connect, timeout=60)
    insert(e2e, cdc_table, (3, "milk", 6))  # while no worker runs
    api.start(connect)
    restarted = time.monotonic()
    wait_healthy(api, connect)
    wait_for(lambda: connector_running(e2e), timeout=CDC_SECONDS, what="the CDC connector running again", interval=2)
    record("cdc_connect_restart_seconds", round(time.monotonic() - restarted, 1))
    insert(e2e, cdc_table, (4, "cups", 50))
    # Connect delivers at least once: a change may come twice, none may be missing.
    ids = captured_ids(bootstrap, registry, cdc_table, {0, 1, 2, 3, 4})
    assert set(ids) == {0, 1, 2, 3, 4}, ids


def test_the_connector_survives_a_postgresql_failover_and_loses_no_change(
    e2e: LiveDeployment, api: docker.APIClient, bootstrap: str, registry: str, cdc_table: str
):
    """Debezium's slot is a permanent Patroni slot, so the new leader has it at the position the old
    one had confirmed: the connector reconnects through HAProxy and streams on from there."""
    pg = DockerPgCluster.of(e2e, api)
    old_leader = pg.wait_for_leader(timeout=30)
    for replica in pg.replicas_of(old_leader):
        pg.wait_for_sync_replica(replica, timeout=60)
    insert(e2e, cdc_table, (5, "sugar", 2))
    # Patroni copies the slot's position to the replicas on its loop (10 s): let it see row 5 read.
    assert 5 in captured_ids(bootstrap, registry, cdc_table, {5}, timeout=90)
    time.sleep(15)
    pg.crash_node(old_leader)
    crashed = time.monotonic()
    wait_for(lambda: pg.current_leader() not in (None, old_leader), timeout=120, what="a new Patroni leader")
    wait_for(lambda: _inserted(e2e, cdc_table, (6, "tea", 20)), timeout=120, what="an insert on the new leader")
    ids = captured_ids(bootstrap, registry, cdc_table, {0, 1, 2, 3, 4, 5, 6})
    record("cdc_failover_to_event_seconds", round(time.monotonic() - crashed, 1))
    # After a failover the connector may stream again from the slot's copied position: changes
    # come twice (measured: rows 2-5 again), none may be missing.
    record("cdc_failover_changes_again", len(ids) - len(set(ids)))
    assert set(ids) == {0, 1, 2, 3, 4, 5, 6}, ids
    assert connector_running(e2e), connector_state(e2e)
    pg.start_node(old_leader)
    pg.wait_for_sync_replica(old_leader, timeout=120)


def _inserted(e2e: LiveDeployment, table: str, row: tuple[int, str, int]) -> bool:
    try:
        insert(e2e, table, row)
    except psycopg.Error:  # no primary yet, or HAProxy still on the old one, back read-only
        return False
    return True


def test_each_streaming_service_stayed_inside_its_memory_limit(e2e: LiveDeployment, api: docker.APIClient, streaming):
    """Memory after the module's work and faults, against each limit (the brokers' heap is half)."""
    services = sorted(name for name in servers(e2e) if name.startswith(("kafka", "apicurio-registry")))
    record("streaming_memory", memory_inside_limits(api, e2e, services))
