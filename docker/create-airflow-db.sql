-- Airflow's metadata lives beside the warehouse, in its own database (as with the embedded default).
CREATE DATABASE airflow OWNER xuncha;
