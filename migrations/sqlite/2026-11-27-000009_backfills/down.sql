DROP INDEX award_jobs_backfill;
ALTER TABLE award_jobs DROP COLUMN backfill_id;
DROP TABLE backfills;
