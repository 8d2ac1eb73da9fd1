-- Processed badge images, named by the SHA-256 of their PNG.
CREATE TABLE stored_images (
    hash VARCHAR(64) PRIMARY KEY NOT NULL,
    png BYTEA NOT NULL,
    thumbnail BYTEA NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE badge_image_configurations (
    id BIGSERIAL PRIMARY KEY,
    mode VARCHAR(125) NOT NULL UNIQUE,
    image_hash VARCHAR(64) NOT NULL REFERENCES stored_images (hash),
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    is_shipped BOOLEAN NOT NULL DEFAULT FALSE,
    original_filename VARCHAR(255) NOT NULL DEFAULT '',
    uploaded_by_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    uploaded_by VARCHAR(150) NOT NULL DEFAULT '',
    uploaded_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- At most one default, whatever the timing of concurrent saves.
CREATE UNIQUE INDEX badge_image_configurations_one_default
    ON badge_image_configurations (is_default) WHERE is_default;

-- A row that moves of the default lock (UPDATE … WHERE key = …), so that concurrent moves
-- take turns instead of tripping over the index above.
INSERT INTO site_settings (key, value) VALUES ('lock:badge-image-default', '');
