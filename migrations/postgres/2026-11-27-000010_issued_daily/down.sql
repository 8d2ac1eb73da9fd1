DROP INDEX badge_assertions_class;
DROP INDEX learners_email;
DROP TABLE badges_issued_daily;
