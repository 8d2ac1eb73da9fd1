DELETE FROM site_settings WHERE key IN ('lock:badgr-tokens', 'badgr_tokens');
