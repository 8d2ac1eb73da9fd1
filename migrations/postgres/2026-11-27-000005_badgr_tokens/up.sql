-- Held while Badgr tokens are refreshed, so that instances refresh one at a time.
INSERT INTO site_settings (key, value) VALUES ('lock:badgr-tokens', '');
