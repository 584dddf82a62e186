# Great Expectations with the Trino dialect, so the tests have GX itself load the gx/ project.
# The same ranges as images/great-expectations/Dockerfile.
checker_venv /opt/gx-venv 'great_expectations>=1.11,<1.12' 'trino[sqlalchemy]>=0.330,<1'
quietly /opt/gx-venv/bin/python -c 'import great_expectations, trino.sqlalchemy'
