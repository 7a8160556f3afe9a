"""The declared policy: model, loader, matching, decisions, validation, importers, comparison.

Entry points: ``loader.load_policy``, ``decide.decide_url``, ``validate.validate_file``,
``importers.load_config``, ``compare.check_results`` / ``compare.findings_exit_code``.
"""
