//! Every route is registered through a [`Router`], which keeps a list of what it registered:
//! actix cannot list its routes, and the security suite checks each one (a route added
//! without a row in its authorization table fails it).

use std::sync::OnceLock;

use actix_web::http::Method;
use actix_web::middleware::DefaultHeaders;
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, web};

/// One method on one path pattern, as registered (`method` is `*` for a fallback that
/// answers every method).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
}

/// The routes this process serves, recorded when the first application was built (every
/// worker builds the same ones). Empty before that.
pub fn registered() -> &'static [Route] {
    REGISTERED.get().map(Vec::as_slice).unwrap_or_default()
}

static REGISTERED: OnceLock<Vec<Route>> = OnceLock::new();

/// Registers routes on an actix `ServiceConfig` and notes each one.
pub struct Router<'a> {
    cfg: &'a mut web::ServiceConfig,
    prefix: String,
    listed: &'a mut Vec<Route>,
}

impl Router<'_> {
    /// Registers the routes `build` adds, then publishes the list (see [`registered`]).
    pub fn build(cfg: &mut web::ServiceConfig, build: impl FnOnce(&mut Router)) {
        let mut listed = Vec::new();
        build(&mut Router {
            cfg,
            prefix: String::new(),
            listed: &mut listed,
        });
        listed.sort();
        let _ = REGISTERED.set(listed);
    }

    pub fn add(&mut self, endpoint: Endpoint) -> &mut Self {
        for method in endpoint.methods {
            self.listed.push(Route {
                method: method.to_string(),
                path: format!("{}{}", self.prefix, endpoint.path),
            });
        }
        self.cfg.service(endpoint.resource);
        self
    }

    /// Routes under `prefix`, whose responses all get `headers` (unless they set their own).
    pub fn scope(
        &mut self,
        prefix: &str,
        headers: DefaultHeaders,
        build: impl FnOnce(&mut Router),
    ) {
        let full_prefix = format!("{}{prefix}", self.prefix);
        let listed = &mut *self.listed;
        self.cfg
            .service(web::scope(prefix).wrap(headers).configure(|cfg| {
                build(&mut Router {
                    cfg,
                    prefix: full_prefix,
                    listed,
                })
            }));
    }

    /// What answers any other path under this router's prefix, whatever the method.
    pub fn fallback<F, Args>(&mut self, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.listed.push(Route {
            method: "*".into(),
            path: format!("{}/{{anything}}", self.prefix),
        });
        self.cfg.default_service(web::to(handler));
    }
}

/// A path and the handlers of its methods; any other method gets 405 (instead of falling
/// through to a 404).
pub struct Endpoint {
    path: String,
    resource: Resource,
    methods: Vec<Method>,
}

pub fn endpoint(path: &str) -> Endpoint {
    Endpoint {
        path: path.to_string(),
        resource: web::resource(path).default_service(web::to(|| async {
            HttpResponse::MethodNotAllowed()
                .content_type("text/plain; charset=utf-8")
                .body("405 Method Not Allowed")
        })),
        methods: Vec::new(),
    }
}

impl Endpoint {
    pub fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::GET, handler)
    }

    pub fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::POST, handler)
    }

    fn method<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self
            .resource
            .route(web::route().method(method.clone()).to(handler));
        self.methods.push(method);
        self
    }
}
