FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=skintrack.settings.production
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input
RUN useradd --create-home skintrack
USER skintrack
EXPOSE 8000
CMD ["gunicorn", "skintrack.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
