CREATE TABLE `log_archives` (
	`run_id` text NOT NULL,
	`step_index` integer NOT NULL,
	`storage_key` text NOT NULL,
	`encoding` text NOT NULL,
	`chunks` integer NOT NULL,
	`bytes` integer NOT NULL,
	`stored_bytes` integer NOT NULL,
	`chunk_index` blob NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`run_id`, `step_index`)
);
--> statement-breakpoint
ALTER TABLE `log_chunks` ADD `encoding` text DEFAULT 'identity' NOT NULL;--> statement-breakpoint
ALTER TABLE `workflows` ADD `log_retention_days` integer;