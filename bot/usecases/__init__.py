"""Use-cases by job; every state change goes through bot.usecases.journal."""
