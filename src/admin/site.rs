//! The registry of model admins, which drives the index and the generic pages.

use std::sync::Arc;

use super::model::DynModelAdmin;
use crate::auth::permissions::ModelPermissions;

/// A custom page (a report) listed on the index in its app's box, for users who may view
/// the model it reports on.
#[derive(Clone, Debug)]
pub struct ExtraPage {
    pub app_name: &'static str,
    pub label: &'static str,
    pub url: &'static str,
    pub app_label: &'static str,
    pub model: &'static str,
}

#[derive(Default, Clone)]
pub struct AdminSite {
    models: Vec<Arc<dyn DynModelAdmin>>,
    pages: Vec<ExtraPage>,
}

impl AdminSite {
    pub fn register(&mut self, model: impl DynModelAdmin + 'static) {
        self.models.push(Arc::new(model));
    }

    pub fn add_page(&mut self, page: ExtraPage) {
        self.pages.push(page);
    }

    pub fn pages(&self) -> &[ExtraPage] {
        &self.pages
    }

    pub fn get(&self, app_label: &str, model: &str) -> Option<Arc<dyn DynModelAdmin>> {
        self.models
            .iter()
            .find(|m| m.info().app_label == app_label && m.info().model == model)
            .cloned()
    }

    /// Apps in alphabetical order of their names, each with its models in alphabetical order.
    pub fn apps(&self) -> Vec<(&'static str, Vec<Arc<dyn DynModelAdmin>>)> {
        let mut models = self.models.clone();
        models.sort_by_key(|m| (m.info().app_name, m.info().verbose_name_plural));
        let mut apps: Vec<(&'static str, Vec<Arc<dyn DynModelAdmin>>)> = Vec::new();
        for model in models {
            match apps.last_mut() {
                Some((name, list)) if *name == model.info().app_name => list.push(model),
                _ => apps.push((model.info().app_name, vec![model])),
            }
        }
        apps
    }

    /// The warnings every admin page shows now (see `DynModelAdmin::site_notices`).
    pub fn notices(&self, conn: &mut crate::db::DbConnection) -> diesel::QueryResult<Vec<String>> {
        let mut notices = Vec::new();
        for model in &self.models {
            notices.extend(model.site_notices(conn)?);
        }
        Ok(notices)
    }

    /// What `permissions::sync` needs to create every registered model's permissions.
    pub fn permission_models(&self) -> Vec<ModelPermissions<'static>> {
        self.models
            .iter()
            .map(|m| ModelPermissions {
                app_label: m.info().app_label,
                model: m.info().model,
                verbose_name: m.info().verbose_name,
            })
            .collect()
    }
}
