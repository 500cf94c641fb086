# Xuncha on the official Airflow image with the locked dependencies. The xuncha package itself is not
# installed: it is imported from the mounted plugins/ folder (on PYTHONPATH), so that it finds sql/ and
# expectations/ beside it under /opt/airflow, exactly as in a checkout.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.lock /opt/xuncha/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /opt/xuncha/requirements.lock
ENV PYTHONPATH=/opt/airflow/plugins
