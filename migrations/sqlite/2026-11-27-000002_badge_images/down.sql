DROP TABLE badge_image_configurations;
DROP TABLE stored_images;
