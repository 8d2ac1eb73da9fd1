//! The local issuer: Accolade itself as an Open Badges 2.0 issuer with hosted verification.
//! Its documents are served under `/public/…`; each assertion's image is the class image
//! baked with the assertion.

use std::time::Duration;

use super::assertions::IssuedAssertion;
use super::backend::{AwardError, Awarded, BadgeBackend, RemoteAward, RemoteClass};
use super::openbadges::{
    self, AssertionFacts, IssuerProfile, Urls, assertion_document, hash_recipient, new_salt,
};
use crate::badges::classes::BadgeClass;
use crate::db::{Database, now};
use crate::learners::Learner;

pub struct LocalIssuer {
    pub urls: Urls,
    pub profile: IssuerProfile,
    /// Where the class images to bake are.
    pub db: Database,
}

impl BadgeBackend for LocalIssuer {
    fn name(&self) -> &'static str {
        super::backend::LOCAL
    }

    fn settle_time(&self) -> Duration {
        // Nothing is made here until Accolade records it.
        Duration::ZERO
    }

    fn create_badge_class(&self, class: &BadgeClass, _tag: &str) -> Result<String, AwardError> {
        // The class is hosted here: its identifier is its public URL.
        Ok(self.urls.badge_class(class.id))
    }

    fn find_badge_class(&self, _tag: &str) -> Result<Option<String>, AwardError> {
        Ok(None)
    }

    fn award(&self, class: &BadgeClass, learner: &Learner, evidence_url: Option<&str>) -> Awarded {
        let public_id = uuid::Uuid::new_v4().simple().to_string();
        let salt = new_salt();
        let identity = hash_recipient(&learner.email, &salt);
        let issued_on = now();
        // Recorded as JSON (for Badgr, the record is Badgr's answer as is); baked as its text.
        let document = serde_json::to_value(assertion_document(
            &self.urls,
            &AssertionFacts {
                public_id: &public_id,
                class_id: class.id,
                salt: &salt,
                identity: &identity,
                issued_on: &issued_on,
                evidence_url,
            },
        ))
        .map_err(|e| AwardError::Permanent(format!("the assertion document: {e}")))?;
        let image = class_image(&self.db, class)?;
        let baked = openbadges::bake_png(&image, &document.to_string())
            .map_err(|e| AwardError::Permanent(format!("baking the badge image: {e}")))?;
        Ok(IssuedAssertion {
            image_url: self.urls.assertion_image(&public_id),
            assertion_url: self.urls.assertion(&public_id),
            public_id,
            data: document,
            recipient_salt: salt,
            recipient_identity: identity,
            baked_png: Some(baked),
        })
    }

    fn find_award(
        &self,
        _class: &BadgeClass,
        _email: &str,
    ) -> Result<Option<IssuedAssertion>, AwardError> {
        // An assertion exists here only once recorded, and then the award is not retried.
        Ok(None)
    }

    fn list_awards(&self, _class: &BadgeClass) -> Result<Option<Vec<RemoteAward>>, AwardError> {
        Ok(None)
    }

    fn list_classes(&self) -> Result<Option<Vec<RemoteClass>>, AwardError> {
        Ok(None)
    }

    fn revoke(
        &self,
        _class: &BadgeClass,
        _public_id: &str,
        _reason: &str,
    ) -> Result<(), AwardError> {
        // Hosted here: marking the record revoked is the revocation (410 from then on).
        Ok(())
    }

    fn health(&self) -> Result<String, String> {
        Ok(format!(
            "local Open Badges 2.0 issuer at {}",
            self.urls.issuer()
        ))
    }
}

/// The image frozen into `class`, read with a connection of its own, released at once.
pub fn class_image(db: &Database, class: &BadgeClass) -> Result<Vec<u8>, AwardError> {
    let mut conn = db.get().map_err(|e| AwardError::Retryable(e.to_string()))?;
    crate::images::store::png(&mut conn, &class.image_hash, false)?.ok_or_else(|| {
        AwardError::Permanent(format!("the image of badge class {} is missing", class.id))
    })
}
