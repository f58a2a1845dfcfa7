"""The analysis report (`reports/models/index.html`) and `mignet run`, the end-to-end command."""
