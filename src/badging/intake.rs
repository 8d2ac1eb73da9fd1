//! Events from the LMS: certificates and enrollments. Each event is recorded once (by its
//! `event_id`), together with the award jobs it causes, in one transaction.

use diesel::prelude::*;
use serde_json::{Map, Value};

use super::{event_badges, jobs};
use crate::courses::{self, CourseKey};
use crate::db::schema::api_events;
use crate::db::{DbConnection, now};
use crate::learners::{self, certificates, enrollments};

/// Why an event was refused, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// What every event carries: its id, and the learner, course and mode it is about.
#[derive(Debug, Clone)]
pub struct EventHead {
    pub event_id: String,
    pub username: String,
    pub email: String,
    pub course: CourseKey,
    pub mode: String,
}

const HEAD_FIELDS: [&str; 5] = ["event_id", "username", "email", "course_id", "mode"];

#[derive(Debug, Clone)]
pub struct CertificateEvent {
    pub head: EventHead,
    /// One of [`certificates::STATUSES`].
    pub status: String,
    pub verify_uuid: String,
    pub course_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EnrollmentEvent {
    pub head: EventHead,
    pub is_active: bool,
}

/// The JSON object, with every field known and of the right type.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The event's fields: those of its head and its own `more`.
    fn new(body: &'a Value, more: &[&str]) -> Result<Fields<'a>, FieldError> {
        let object = body
            .as_object()
            .ok_or_else(|| refuse("(body)", "expected a JSON object"))?;
        let known = |key: &str| HEAD_FIELDS.contains(&key) || more.contains(&key);
        if let Some(unknown) = object.keys().find(|k| !known(k)) {
            return Err(refuse(unknown, "unknown field"));
        }
        Ok(Fields(object))
    }

    fn head(&self) -> Result<EventHead, FieldError> {
        Ok(EventHead {
            event_id: self.text("event_id", 100)?,
            username: self.username()?,
            email: self.email()?,
            course: self.course()?,
            mode: self.mode()?,
        })
    }

    fn status(&self) -> Result<String, FieldError> {
        let status = self.text("status", 50)?;
        match certificates::STATUSES.contains(&status.as_str()) {
            true => Ok(status),
            false => Err(refuse("status", "not a certificate status of Open edX")),
        }
    }

    fn text(&self, name: &str, max: usize) -> Result<String, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(refuse(name, "this field is required")),
            Some(Value::String(s)) if s.trim().is_empty() => Err(refuse(name, "must not be empty")),
            Some(Value::String(s)) if s.chars().count() > max => {
                Err(refuse(name, format!("at most {max} characters")))
            }
            // PostgreSQL cannot store NUL in text, and no name or key holds one.
            Some(Value::String(s)) if s.contains('\0') => {
                Err(refuse(name, "null characters are not allowed"))
            }
            Some(Value::String(s)) => Ok(s.trim().to_string()),
            Some(_) => Err(refuse(name, "expected a string")),
        }
    }

    fn optional_text(&self, name: &str, max: usize) -> Result<Option<String>, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.text(name, max).map(Some),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(refuse(name, "this field is required")),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(refuse(name, "expected true or false")),
        }
    }

    fn course(&self) -> Result<CourseKey, FieldError> {
        CourseKey::parse(&self.text("course_id", 255)?)
            .map_err(|_| refuse("course_id", courses::keys::INVALID))
    }

    /// A text field that must also pass one of the shared rules of `crate::validation`
    /// (the command line applies the same ones).
    fn checked(
        &self,
        name: &str,
        max: usize,
        rule: fn(&str) -> Result<(), &'static str>,
    ) -> Result<String, FieldError> {
        let value = self.text(name, max)?;
        rule(&value).map_err(|problem| refuse(name, problem))?;
        Ok(value)
    }

    fn email(&self) -> Result<String, FieldError> {
        self.checked("email", 254, crate::validation::email_address)
    }

    fn username(&self) -> Result<String, FieldError> {
        self.checked("username", 150, crate::validation::learner_username)
    }

    fn verify_uuid(&self) -> Result<String, FieldError> {
        self.checked("verify_uuid", 36, crate::validation::verify_uuid)
    }

    fn mode(&self) -> Result<String, FieldError> {
        let mode = self.text("mode", 100)?;
        match courses::validate_mode(&mode) {
            Some(problem) => Err(refuse("mode", problem)),
            None => Ok(mode),
        }
    }
}

pub fn parse_certificate(body: &Value) -> Result<CertificateEvent, FieldError> {
    let fields = Fields::new(body, &["status", "verify_uuid", "course_name"])?;
    Ok(CertificateEvent {
        head: fields.head()?,
        status: fields.status()?,
        verify_uuid: fields.verify_uuid()?,
        course_name: fields.optional_text("course_name", 255)?,
    })
}

pub fn parse_enrollment(body: &Value) -> Result<EnrollmentEvent, FieldError> {
    let fields = Fields::new(body, &["is_active"])?;
    Ok(EnrollmentEvent {
        head: fields.head()?,
        is_active: fields.flag("is_active")?,
    })
}

/// What recording an event came to: the jobs it queued, and whether it was new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub event_id: String,
    pub job_ids: Vec<i64>,
    pub repeat: bool,
}

fn earlier(conn: &mut DbConnection, event_id: &str) -> QueryResult<Option<Recorded>> {
    let stored: Option<String> = api_events::table
        .filter(api_events::event_id.eq(event_id))
        .select(api_events::job_ids)
        .first(conn)
        .optional()?;
    Ok(stored.map(|ids| Recorded {
        event_id: event_id.to_string(),
        job_ids: serde_json::from_str(&ids).unwrap_or_default(),
        repeat: true,
    }))
}

/// Records an event and what it causes, once: a repeat of its `event_id` changes nothing
/// and answers with the jobs of the first.
fn record_once(
    conn: &mut DbConnection,
    event_id: &str,
    kind: &str,
    payload: &Value,
    work: impl Fn(&mut DbConnection) -> QueryResult<Vec<i64>>,
) -> QueryResult<Recorded> {
    // A unique violation is a concurrent repeat of this event (answered with the first's
    // jobs), or another event that inserted the same learner, course, enrollment or
    // certificate first: that row is there now, so the next try updates it instead. Each
    // try gets past at least one such row, and there are four kinds.
    const TRIES: usize = 5;
    // A repeat is answered without writing (and a repeat that races the first is caught
    // by the unique index below).
    if let Some(seen) = earlier(conn, event_id)? {
        return Ok(seen);
    }
    let mut tries = 0;
    loop {
        tries += 1;
        match record_in_transaction(conn, event_id, kind, payload, &work) {
            Err(e) if crate::db::is_unique_violation(&e) => {
                if let Some(seen) = earlier(conn, event_id)? {
                    return Ok(seen);
                }
                if tries == TRIES {
                    return Err(e);
                }
            }
            other => return other,
        }
    }
}

fn record_in_transaction(
    conn: &mut DbConnection,
    event_id: &str,
    kind: &str,
    payload: &Value,
    work: &impl Fn(&mut DbConnection) -> QueryResult<Vec<i64>>,
) -> QueryResult<Recorded> {
    crate::db::write_transaction(conn, |conn| {
        let job_ids = work(conn)?;
        // The event row last, with its jobs: a concurrent repeat that got here first makes
        // this insert fail on the unique index, and the whole transaction with it.
        diesel::insert_into(api_events::table)
            .values((
                api_events::event_id.eq(event_id),
                api_events::kind.eq(kind),
                api_events::payload.eq(payload.to_string()),
                api_events::job_ids.eq(serde_json::to_string(&job_ids).unwrap_or_default()),
                api_events::received_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(Recorded {
            event_id: event_id.to_string(),
            job_ids,
            repeat: false,
        })
    })
}

/// The event's learner and course, each made when first seen (a new course named `name`).
fn learner_and_course(
    conn: &mut DbConnection,
    head: &EventHead,
    name: Option<&str>,
) -> QueryResult<(learners::Learner, courses::Course)> {
    let course = match courses::find_by_key(conn, &head.course.to_string())? {
        Some(course) => course,
        None => courses::create(conn, &head.course, name.unwrap_or_default())?,
    };
    Ok((learners::upsert(conn, &head.username, &head.email)?, course))
}

/// A certificate event: the learner, enrollment mode and certificate are recorded, and a
/// passing certificate queues the course-completion award and the event badges it makes due.
pub fn certificate(
    conn: &mut DbConnection,
    event: &CertificateEvent,
    payload: &Value,
    lms_url: &str,
) -> QueryResult<Recorded> {
    let head = &event.head;
    record_once(conn, &head.event_id, "certificate", payload, |conn| {
        let (learner, course) = learner_and_course(conn, head, event.course_name.as_deref())?;
        enrollments::upsert(conn, learner.id, &course.course_id, &head.mode, true)?;
        certificates::record(
            conn,
            learner.id,
            &course.course_id,
            &head.mode,
            &event.status,
            &event.verify_uuid,
        )?;
        if !certificates::is_passing(&event.status) {
            return Ok(Vec::new());
        }
        let evidence = super::award::evidence_url(lms_url, &event.verify_uuid);
        let mut job_ids = vec![
            jobs::enqueue_course_completion(
                conn,
                learner.id,
                &course.course_id,
                &head.mode,
                &evidence,
            )?
            .id,
        ];
        let due = event_badges::due_after_certificate(conn, learner.id, &course.course_id)?;
        job_ids.extend(event_badges::enqueue(
            conn,
            learner.id,
            &course.course_id,
            &due,
        )?);
        Ok(job_ids)
    })
}

/// An enrollment event: the enrollment is recorded, and the enrollment-count badges it
/// makes due are queued.
pub fn enrollment(
    conn: &mut DbConnection,
    event: &EnrollmentEvent,
    payload: &Value,
) -> QueryResult<Recorded> {
    let head = &event.head;
    record_once(conn, &head.event_id, "enrollment", payload, |conn| {
        let (learner, course) = learner_and_course(conn, head, None)?;
        let mode = &head.mode;
        enrollments::upsert(conn, learner.id, &course.course_id, mode, event.is_active)?;
        let due = event_badges::due_after_enrollment(conn, learner.id)?;
        event_badges::enqueue(conn, learner.id, &course.course_id, &due)
    })
}
