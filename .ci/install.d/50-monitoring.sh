# promtool (prometheus.yml, rule files) and amtool (alertmanager.yml), from Debian's prometheus
# and prometheus-alertmanager; only the tools are wanted, not the daemons.
apt_install prometheus prometheus-alertmanager
for service in prometheus prometheus-alertmanager; do
    service "$service" stop >/dev/null 2>&1 || true
done
promtool --version >/dev/null
amtool --version >/dev/null
