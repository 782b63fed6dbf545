-- Provision the MySQL/MariaDB side of db_django: the database, the application
-- user and the least privileges the app needs.
--
--   mysql -uroot < sql/create_database.sql
--
-- Safe to run again: every statement is IF NOT EXISTS or a GRANT (granting a
-- privilege the user already holds is a no-op). Works on MariaDB >= 10.5 and
-- MySQL 8.
--
-- Then point the app at it:
--   DATABASE_URL=mysql://db_django:change-me@127.0.0.1:3306/db_django

-- utf8mb4 stores all of Unicode (MySQL's "utf8" stops at 3 bytes per character);
-- the collation matches what the test runner uses for dbdjango_test_db_django
-- (TEST CHARSET/COLLATION in db_django/env.py).
CREATE DATABASE IF NOT EXISTS `db_django`
  CHARACTER SET utf8mb4
  COLLATE utf8mb4_unicode_ci;

-- >>> PLACEHOLDER PASSWORD: replace 'change-me' before running this on a real
-- >>> server (and use the same value in DATABASE_URL). IF NOT EXISTS means a
-- >>> re-run never resets the password of a user that already exists; change it
-- >>> with: ALTER USER 'db_django'@'%' IDENTIFIED BY '...';
-- '%' serves the app from other hosts (TCP); 'localhost' is needed as well
-- because an anonymous ''@'localhost' account, where one exists, would
-- otherwise win over '%' for local connections.
CREATE USER IF NOT EXISTS 'db_django'@'%' IDENTIFIED BY 'change-me';
CREATE USER IF NOT EXISTS 'db_django'@'localhost' IDENTIFIED BY 'change-me';

-- The application database. SELECT/INSERT/UPDATE/DELETE: the app's reads and
-- writes (samples, sessions, users, the legacy `user` table). CREATE, ALTER,
-- INDEX, DROP, REFERENCES: `manage.py migrate` creates and alters tables, adds
-- the indexes on monitor_resource and the foreign keys of the auth/admin tables,
-- and drops what a migration removes (DROP also drops old time partitions of
-- monitor_sample and monitor_rollup: retention). CREATE VIEW, SHOW VIEW: the
-- notes' `monitor_resource` is a view over the samples and their series.
-- No GRANT OPTION, no FILE, no SUPER.
-- The underscores are escaped because '_' is a wildcard in a GRANT's database
-- name: unescaped, `db_django` would also match e.g. `db-django` or `dbXdjango`.
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, CREATE VIEW, SHOW VIEW
  ON `db\_django`.* TO 'db_django'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, CREATE VIEW, SHOW VIEW
  ON `db\_django`.* TO 'db_django'@'localhost';

-- Server-wide, read-only monitoring privileges for the status collector
-- (monitor/collection/collectors/mysql.py):
--   PROCESS            SHOW GLOBAL STATUS counters that describe other sessions
--                      (threads, InnoDB) and SHOW PROCESSLIST beyond its own;
--   REPLICATION CLIENT SHOW REPLICA STATUS on MySQL 8 (replication lag);
--   SLAVE MONITOR      SHOW REPLICA STATUS on MariaDB >= 10.5.9, where
--                      REPLICATION CLIENT no longer covers it. The /*M!100509 */
--                      comment is executed only by MariaDB 10.5.9 or later; MySQL
--                      reads it as a plain comment, so one script serves both.
-- Privileges "ON *.*" are global by nature; none of these can read or change data.
GRANT PROCESS, REPLICATION CLIENT /*M!100509 , SLAVE MONITOR */
  ON *.* TO 'db_django'@'%';
GRANT PROCESS, REPLICATION CLIENT /*M!100509 , SLAVE MONITOR */
  ON *.* TO 'db_django'@'localhost';

-- The test database, so `make test` can run as this user with
-- DATABASE_URL=mysql://db_django:...@127.0.0.1:3306/db_django: the test run
-- creates `dbdjango_test_db_django` (TEST_DB_PREFIX + the database's name;
-- CREATE at database level allows CREATE DATABASE of that one name), migrates
-- it and drops it (DROP) at the end. With another TEST_DB_PREFIX, grant on
-- that name instead. Same list as the application database: nothing the app
-- itself may not do.
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, CREATE VIEW, SHOW VIEW
  ON `dbdjango\_test\_db\_django`.* TO 'db_django'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, CREATE VIEW, SHOW VIEW
  ON `dbdjango\_test\_db\_django`.* TO 'db_django'@'localhost';
