-- Possible numbers outside every range the phone metadata knows are now
-- accepted and marked. Every row before this was refused unless valid.
ALTER TABLE messages ADD COLUMN recipient_valid BOOLEAN NOT NULL DEFAULT TRUE;
