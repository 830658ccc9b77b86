"""crabplus.tasks"""
