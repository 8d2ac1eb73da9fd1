DELETE FROM site_settings WHERE key = 'lock:badge-image-default';
DROP TABLE badge_image_configurations;
DROP TABLE stored_images;
