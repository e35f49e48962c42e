"""Labelled synthetic traffic (honest buyers, honest look-alikes, every risk pattern) and the
evaluator that scores alerts and decisions against its ground truth."""
