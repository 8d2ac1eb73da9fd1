//! Open edX course keys: `course-v1:ORG+NUMBER+RUN`, or the old `ORG/NUMBER/RUN`.
//!
//! Keys are case-sensitive, as in Open edX. Each part may hold letters, digits and
//! `_ - ~ . :` (opaque-keys' allowed characters, ASCII only here).

use std::fmt;

const MAX_LENGTH: usize = 255;
pub const INVALID: &str =
    "Enter a valid course key, such as course-v1:ORG+NUMBER+RUN or ORG/NUMBER/RUN.";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CourseKey {
    pub org: String,
    pub number: String,
    pub run: String,
    /// The old slash-separated form.
    pub deprecated: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{INVALID}")]
pub struct InvalidCourseKey;

fn is_part(part: &str) -> bool {
    !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-~.:".contains(c))
}

impl CourseKey {
    pub fn parse(text: &str) -> Result<CourseKey, InvalidCourseKey> {
        if text.len() > MAX_LENGTH {
            return Err(InvalidCourseKey);
        }
        let (parts, deprecated): (Vec<&str>, bool) = match text.strip_prefix("course-v1:") {
            Some(rest) => (rest.split('+').collect(), false),
            None => (text.split('/').collect(), true),
        };
        match parts.as_slice() {
            [org, number, run] if [org, number, run].iter().all(|p| is_part(p)) => Ok(CourseKey {
                org: org.to_string(),
                number: number.to_string(),
                run: run.to_string(),
                deprecated,
            }),
            _ => Err(InvalidCourseKey),
        }
    }
}

impl fmt::Display for CourseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.deprecated {
            write!(f, "{}/{}/{}", self.org, self.number, self.run)
        } else {
            write!(f, "course-v1:{}+{}+{}", self.org, self.number, self.run)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_and_print_back() {
        for text in [
            "course-v1:edX+DemoX+Demo_Course",
            "course-v1:ExU+RUST101+2025_T1",
            "edX/course_test/test_run",
            "course-v1:Org.a+N~1+run:2",
        ] {
            let key = CourseKey::parse(text).unwrap();
            assert_eq!(key.to_string(), text);
        }
        let key = CourseKey::parse("course-v1:edX+DemoX+Demo_Course").unwrap();
        assert_eq!(
            (key.org.as_str(), key.number.as_str(), key.run.as_str()),
            ("edX", "DemoX", "Demo_Course")
        );
        assert!(CourseKey::parse("edX/a/b").unwrap().deprecated);
    }

    #[test]
    fn garbage_and_injection_are_refused() {
        let long = format!("course-v1:{}+a+b", "x".repeat(300));
        for text in [
            "",
            "course-v1:",
            "course-v1:a+b",
            "course-v1:a+b+c+d",
            "course-v1:a++c",
            "a/b",
            "a/b/c/d",
            "course-v1:a+b+c<script>",
            "course-v1:a+b+c' OR '1'='1",
            "course-v1:a+b+c\n",
            "course-v1:a+b+ c",
            "course-v1:a+b+c%2F",
            "course-v1:é+b+c",
            long.as_str(),
        ] {
            assert_eq!(CourseKey::parse(text), Err(InvalidCourseKey), "{text:?}");
        }
    }

    #[test]
    fn keys_are_case_sensitive() {
        assert_ne!(
            CourseKey::parse("course-v1:edX+A+B").unwrap(),
            CourseKey::parse("course-v1:EDX+A+B").unwrap()
        );
    }
}
