def create_app():
    from fastapi import FastAPI
    return FastAPI()
