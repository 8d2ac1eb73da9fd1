DROP TABLE certificates;
DROP TABLE enrollments;
DROP TABLE api_events;
