//! Future utilities (being written).
