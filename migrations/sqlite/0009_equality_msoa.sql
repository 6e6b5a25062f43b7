-- Issue 13 point 6: the MSOA of residence of a person, for the S22 monitor's MSOA breakdown and
-- for a deprivation decile looked up from the MSOA (docs/formats.md "Equality attributes").
-- Held in person_equality with the other protected attributes, so it is read only by
-- safeguards::equality and goes with its person on erasure. ONS MSOA 2021 code, e.g. E02003012.
ALTER TABLE person_equality ADD COLUMN msoa TEXT;
