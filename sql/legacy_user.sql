-- The notes' inspectdb example: a table created outside Django, then reflected
-- with `python manage.py inspectdb user` and managed in the admin through
-- monitor.models.LegacyUser (managed = False, db_table = 'user').
--
--   mysql -uroot db_django < sql/legacy_user.sql
--
-- Safe to run again: IF NOT EXISTS and INSERT IGNORE (the UNIQUE email makes a
-- second insert of the same rows a no-op).
--
-- Keep the columns in step with LegacyUser: Django never alters this table, so
-- a column added here must be added to the model by hand (or re-run inspectdb).

-- `user` is backquoted: USER is a keyword in MySQL/MariaDB.
CREATE TABLE IF NOT EXISTS `user` (
  `id` INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `name` VARCHAR(100) NOT NULL,
  -- 254 is the longest valid address (RFC 5321); 254 * 4 bytes of utf8mb4
  -- still fits InnoDB's 3072-byte index key limit for the UNIQUE index.
  `email` VARCHAR(254) NOT NULL UNIQUE,
  `created_at` DATETIME NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO `user` (`name`, `email`) VALUES
  ('Alice', 'alice@example.com'),
  ('Bob', 'bob@example.com');
