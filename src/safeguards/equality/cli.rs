//! `saferplaces equality run` and `equality close`.
