//! The Vigil scheduler: durable cron firing with catch-up, DST handling and detection
#![forbid(unsafe_code)]
