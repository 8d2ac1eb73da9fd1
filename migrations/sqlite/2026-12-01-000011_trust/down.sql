DROP TABLE user_sessions;
DROP INDEX users_username_folded;
ALTER TABLE users DROP COLUMN username_key;
-- The assertions keep RESTRICT: going back must not make issued badges deletable.
