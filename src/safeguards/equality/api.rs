//! The published form of the monitor's results (`GET /api/v1/equality/latest`).
