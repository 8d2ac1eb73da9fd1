DROP TABLE badge_assertions;
DROP TABLE award_attempts;
DROP TABLE award_jobs;
DROP TABLE learners;
