# PostgreSQL HA test tools: a PostgreSQL server, etcd, HAProxy, and Patroni in a venv the
# postgres user can run (tests/integration/, tests/test_pgha_configs.py).
apt_install postgresql etcd-server etcd-client haproxy python3-venv

# A machine that had these packages before may run their daemons; the tests use their own
# ports, but nothing stale should hold 5432 or 2379 either.
while read -r version cluster _; do
    pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
done < <(pg_lsclusters --no-header 2>/dev/null)
for service in etcd haproxy; do
    service "$service" stop >/dev/null 2>&1 || true
done

# Patroni runs as postgres, which cannot use an interpreter under /root (pyenv): build its venv
# on Debian's python3 and leave it readable by everyone.
CHECKER_PYTHON=/usr/bin/python3 checker_venv /opt/patroni-venv wheel 'patroni[etcd3,psycopg3]>=4.1,<4.2'
chmod -R a+rX /opt/patroni-venv
/opt/patroni-venv/bin/patroni --version >/dev/null
