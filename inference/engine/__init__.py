"""The serving core: sequences, paged KV blocks with prefix caching, scheduler, model runner, engine."""
