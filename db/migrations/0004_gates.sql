CREATE TABLE `gate_decisions` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`step_index` integer NOT NULL,
	`decision` text NOT NULL,
	`via` text NOT NULL,
	`user_id` text,
	`comment` text DEFAULT '' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `gate_decisions_run_idx` ON `gate_decisions` (`run_id`);--> statement-breakpoint
ALTER TABLE `run_steps` ADD `waiting_until` integer;