//! A TCP relay between the application and its PostgreSQL server that can be cut and
//! restored: a database outage as an instance sees it, whatever the test's rights on the
//! server (CI's role may neither block a database nor end other sessions).

use std::net::TcpListener as StdListener;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Relays connections from its own port to the server while up. Cut, it drops every
/// connection it relays and closes new ones at once, as a server going away does.
pub struct FlakyLink {
    address: String,
    down: watch::Sender<bool>,
}

impl FlakyLink {
    /// A link to the server a `postgres://` URL names, relaying on a thread of its own (so
    /// that the test's runtime may block on the database meanwhile).
    pub fn to_server_of(url: &str) -> FlakyLink {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (down, watch) = watch::channel(false);
        let server = host_and_port(url).to_string();
        let server = if server.contains(':') {
            server
        } else {
            format!("{server}:5432")
        };
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(relay(listener, server, watch))
        });
        FlakyLink { address, down }
    }

    /// `url` with its server replaced by this link.
    pub fn url_through(&self, url: &str) -> String {
        url.replacen(host_and_port(url), &self.address, 1)
    }

    pub fn cut(&self) {
        self.down.send_replace(true);
    }

    pub fn restore(&self) {
        self.down.send_replace(false);
    }
}

/// The `host[:port]` of a URL (after any `user:password@`).
fn host_and_port(url: &str) -> &str {
    let authority = url.split_once("://").expect("a URL").1;
    let authority = authority.split(['/', '?']).next().unwrap();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

async fn relay(listener: StdListener, server: String, mut watch: watch::Receiver<bool>) {
    let listener = TcpListener::from_std(listener).unwrap();
    loop {
        let client = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => client,
                Err(_) => continue,
            },
            // The link was dropped: the test is over.
            changed = watch.changed() => match changed {
                Ok(()) => continue,
                Err(_) => return,
            },
        };
        if *watch.borrow() {
            continue; // dropped: closed at once
        }
        tokio::spawn(pipe(client, server.clone(), watch.clone()));
    }
}

async fn pipe(mut client: TcpStream, server: String, mut watch: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(&server).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = watch.wait_for(|down| *down) => {}
    }
}
