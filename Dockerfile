FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=skintrack.settings.production
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# No secret or service exists at build time: the build settings collect the same static files production serves.
RUN DJANGO_SETTINGS_MODULE=skintrack.settings.build python manage.py collectstatic --no-input
RUN useradd --create-home skintrack
USER skintrack
EXPOSE 8000
CMD ["gunicorn", "skintrack.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
