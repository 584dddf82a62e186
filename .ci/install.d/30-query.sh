# dbt with the Trino adapter, so the tests have dbt itself parse the project with the profile
# the program renders. The same range as images/dbt/Dockerfile (dbt-core 1.12 downloads a
# parser from outside the package index while installing).
checker_venv /opt/dbt-venv 'dbt-core>=1.11,<1.12' 'dbt-trino>=1.11,<1.12'
/opt/dbt-venv/bin/dbt --version >/dev/null
