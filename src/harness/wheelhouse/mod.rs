//! Hermetic pip: a wheelhouse and PEP 503 index served to the containers.
