CREATE TABLE `collab_docs` (
	`workflow_id` text PRIMARY KEY NOT NULL,
	`state` blob NOT NULL,
	`updated_at` integer NOT NULL
);
