-- Events received from the LMS, kept by their id so that a repeat changes nothing.
CREATE TABLE api_events (
    id BIGSERIAL PRIMARY KEY,
    event_id VARCHAR(100) NOT NULL UNIQUE,
    kind VARCHAR(20) NOT NULL,
    payload TEXT NOT NULL,
    job_ids TEXT NOT NULL DEFAULT '[]',
    received_at TIMESTAMP NOT NULL
);

CREATE TABLE enrollments (
    id BIGSERIAL PRIMARY KEY,
    learner_id BIGINT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    course_id VARCHAR(255) NOT NULL,
    mode VARCHAR(100) NOT NULL,
    is_active BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (learner_id, course_id)
);

CREATE TABLE certificates (
    id BIGSERIAL PRIMARY KEY,
    learner_id BIGINT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    course_id VARCHAR(255) NOT NULL,
    mode VARCHAR(100) NOT NULL,
    status VARCHAR(50) NOT NULL,
    verify_uuid VARCHAR(100) NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (learner_id, course_id)
);
