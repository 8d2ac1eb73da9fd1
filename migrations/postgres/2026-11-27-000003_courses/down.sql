DROP TABLE badge_classes;
DROP TABLE course_roles;
DROP TABLE courses;
